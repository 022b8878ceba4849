"""Shortcut linearizer: the correct root-to-solution path only."""
from __future__ import annotations

import pytest

from search.tasks.base import DEAD_END, SOLUTION, VALID
from tests.linearize_trees import TreeBuilder, countdown_task, tree_1357
from traces.linearize import KINDS, linearize_tree
from traces.shortcut import ShortcutConfig, linearize_shortcut
from traces.problems import problem_of

TASK = countdown_task()


def test_shortcut_is_root_to_solution_path():
    G = tree_1357()
    [traj] = linearize_shortcut(G, TASK)
    assert traj["lines"] == ["3 * 5 = 15. Left: 1, 7, 15", "15 + 7 = 22. Left: 1, 22", "22 * 1 = 22. Left: 22"]
    assert traj["node_ids"] == [102, 107, 108]
    assert traj["answer"] == "((3 * 5) + 7) * 1"
    assert traj["text"] == (
        "<think>\n3 * 5 = 15. Left: 1, 7, 15\n15 + 7 = 22. Left: 1, 22\n22 * 1 = 22. Left: 22\n</think>\n"
        "<answer>((3 * 5) + 7) * 1</answer>"
    )
    assert (traj["tree_id"], traj["kind"], traj["idx"]) == (7, "shortcut", 0)
    assert (traj["n_steps"], traj["n_backtracks"], traj["is_correct"]) == (3, 0, True)
    assert traj["messages"] == [
        {"role": "user", "content": TASK.instructions(problem_of(G))},
        {"role": "assistant", "content": traj["text"]},
    ]
    assert TASK.extract_answer(traj["text"]) == traj["answer"]


def _two_solutions(value_a: float, value_b: float):
    """[3, 5, 7] -> 22 solved twice: 3 * 5 then + 7 (seq 2) and 7 + 3*5 written the other way (seq 4)."""
    b = TreeBuilder([3, 5, 7], 22)
    n1 = b.step(b.root, "3 * 5 = 15. Left: 7, 15", VALID, {"nums": [7, 15], "exprs": ["7", "3 * 5"]})
    b.step(n1, "15 + 7 = 22. Left: 22", SOLUTION, {"nums": [22], "exprs": ["(3 * 5) + 7"]}, value=value_a)
    b.step(n1, "15 - 7 = 8. Left: 8", DEAD_END, {"nums": [8], "exprs": ["(3 * 5) - 7"]}, reason="8 is not 22")
    b.step(n1, "7 + 15 = 22. Left: 22", SOLUTION, {"nums": [22], "exprs": ["7 + (3 * 5)"]}, value=value_b)
    return b.G


def test_shortcut_prefers_the_higher_value_solution_among_equal_lengths():
    [traj] = linearize_shortcut(_two_solutions(0.4, 0.9), TASK)
    assert traj["node_ids"] == [101, 104]
    assert traj["answer"] == "7 + (3 * 5)"


def test_shortcut_ties_on_value_go_to_the_earliest_solution():
    [traj] = linearize_shortcut(_two_solutions(0.5, 0.5), TASK)
    assert traj["node_ids"] == [101, 102]


def test_shortcut_all_solutions_gives_one_per_solution_best_first():
    trajs = linearize_shortcut(_two_solutions(0.4, 0.9), TASK, ShortcutConfig(all_solutions=True))
    assert [t["idx"] for t in trajs] == [0, 1]
    assert [t["node_ids"] for t in trajs] == [[101, 104], [101, 102]]
    assert all(t["is_correct"] and t["n_backtracks"] == 0 for t in trajs)


def test_shortcut_accepts_a_mapping_config_and_rejects_unknown_options():
    assert len(linearize_shortcut(_two_solutions(0.4, 0.9), TASK, {"all_solutions": True})) == 2
    with pytest.raises(ValueError, match="all_solution"):
        linearize_shortcut(_two_solutions(0.4, 0.9), TASK, {"all_solution": True})


def test_shortcut_skips_a_solution_the_verifier_rejects():
    b = TreeBuilder([3, 5, 7], 22)
    n1 = b.step(b.root, "3 * 5 = 15. Left: 7, 15", VALID, {"nums": [7, 15], "exprs": ["7", "3 * 5"]})
    # A corrupted stored expression: the label says solution but the answer does not verify.
    b.step(n1, "15 + 7 = 22. Left: 22", SOLUTION, {"nums": [22], "exprs": ["(3 * 5) + 8"]})
    trajs, reason = linearize_tree(b.G, TASK, "shortcut", None)
    assert trajs == []
    assert "no verified solution" in reason


def test_tree_without_solution_yields_nothing_for_every_kind():
    b = TreeBuilder([3, 5, 7], 22)
    b.step(b.root, "5 + 7 = 12. Left: 3, 12", DEAD_END, {"nums": [3, 12], "exprs": ["3", "5 + 7"]},
           reason="3, 12 cannot make 22")
    for kind in KINDS:
        trajs, reason = linearize_tree(b.G, TASK, kind, None)
        assert trajs == [] and reason == "no verified solution in the tree", kind


def test_unknown_kind_is_a_clear_error():
    with pytest.raises(ValueError, match="'jurney'.*journey"):
        linearize_tree(tree_1357(), TASK, "jurney", None)
