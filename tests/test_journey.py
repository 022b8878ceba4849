"""Journey linearizer (O1-Journey constrained DFS) on the hand-built tree of `tree_1357`.

A plain reflector keeps the expected texts readable; the template pool has its own tests.
"""
from __future__ import annotations

import pytest

from search.tasks.base import DEAD_END, SOLUTION, VALID
from tests.linearize_trees import TreeBuilder, countdown_task, tree_1357
from traces.journey import JourneyConfig, journey_with_reason, linearize_journey
from traces.linearize import linearize_tree

TASK = countdown_task()
ANSWER = "((3 * 5) + 7) * 1"
S102 = "3 * 5 = 15. Left: 1, 7, 15"
S107 = "15 + 7 = 22. Left: 1, 22"
S108 = "22 * 1 = 22. Left: 22"


def plain(failure, good_state, rng):
    return f"Wait, {failure['reason']}.", f"Back to {TASK.describe_state(good_state)}."


def journey(cfg, **kw):
    kw.setdefault("reflector", plain)
    return linearize_journey(tree_1357(), TASK, cfg, **kw)


def test_journey_returns_to_last_good_state():
    [traj] = journey(JourneyConfig(select="plausible"))
    assert traj["lines"] == [
        "7 - 1 = 6. Left: 3, 5, 6",
        "Wait, 3, 5, 6 cannot make 22.",
        "Back to 1, 3, 5, 7.",
        S102,
        "15 - 1 = 14. Left: 7, 14",
        "Wait, 7, 14 cannot make 22.",
        "Back to 1, 7, 15.",
        S107,
        "22 - 1 = 21. Left: 21",
        "Wait, 21 is not 22.",
        "Back to 1, 22.",
        S108,
    ]
    assert traj["node_ids"] == [103, 102, 106, 107, 109, 108]
    assert (traj["n_steps"], traj["n_backtracks"], traj["answer"], traj["is_correct"]) == (6, 3, ANSWER, True)
    assert traj["text"] == TASK.render_completion(traj["lines"], ANSWER)
    assert (traj["kind"], traj["idx"], traj["tree_id"]) == ("journey", 0, 7)
    assert traj["messages"][1] == {"role": "assistant", "content": traj["text"]}


def test_journey_k_limits_trials_per_node():
    [k3] = journey(JourneyConfig(k=3, select="plausible", max_backtracks=10))
    # Root: the two most plausible wrong children (103 at -1.0, then 101 at -2.0, followed to 105).
    assert k3["node_ids"] == [103, 101, 105, 102, 106, 107, 109, 108]
    assert k3["n_backtracks"] == 4
    [k4] = journey(JourneyConfig(k=4, select="plausible", max_backtracks=10))
    assert k4["node_ids"] == [103, 101, 105, 104, 102, 106, 107, 109, 108]
    assert k4["lines"][:10] == [
        "7 - 1 = 6. Left: 3, 5, 6", "Wait, 3, 5, 6 cannot make 22.", "Back to 1, 3, 5, 7.",
        "7 * 1 = 7. Left: 3, 5, 7", "5 + 3 = 8. Left: 7, 8", "Wait, 7, 8 cannot make 22.", "Back to 1, 3, 5, 7.",
        "3 + 5 = 9. Left: 1, 7, 9", "Wait, 3 + 5 is 8, not 9.", "Back to 1, 3, 5, 7.",
    ]


def test_journey_max_backtracks():
    [traj] = journey(JourneyConfig(select="plausible", max_backtracks=1))
    assert traj["lines"] == ["7 - 1 = 6. Left: 3, 5, 6", "Wait, 3, 5, 6 cannot make 22.", "Back to 1, 3, 5, 7.",
                             S102, S107, S108]
    assert traj["n_backtracks"] == 1
    [two] = journey(JourneyConfig(k=4, select="plausible", max_backtracks=2))
    assert two["node_ids"] == [103, 101, 105, 102, 107, 108]


def test_journey_select_invalid_takes_only_illegal_steps():
    [traj] = journey(JourneyConfig(select="invalid"))
    assert traj["lines"] == ["3 + 5 = 9. Left: 1, 7, 9", "Wait, 3 + 5 is 8, not 9.", "Back to 1, 3, 5, 7.",
                             S102, S107, S108]


def test_journey_select_dead_end_takes_dead_ends_in_visit_order():
    [traj] = journey(JourneyConfig(select="dead_end"))
    assert traj["lines"] == [
        "7 * 1 = 7. Left: 3, 5, 7", "5 + 3 = 8. Left: 7, 8", "Wait, 7, 8 cannot make 22.", "Back to 1, 3, 5, 7.",
        S102,
        "15 - 1 = 14. Left: 7, 14", "Wait, 7, 14 cannot make 22.", "Back to 1, 7, 15.",
        S107,
        "22 - 1 = 21. Left: 21", "Wait, 21 is not 22.", "Back to 1, 22.",
        S108,
    ]
    assert traj["n_steps"] == 7


def test_journey_select_plausible_prefers_the_highest_logprob_wrong_step():
    [traj] = journey(JourneyConfig(select="plausible", max_backtracks=1))
    assert traj["node_ids"][0] == 103  # logprob -1.0 beats 101 (-2.0) and 104 (-3.0)


def test_journey_select_random_is_seeded_and_varies_with_the_seed():
    roots = {}
    for seed in range(12):
        [a] = journey(JourneyConfig(seed=seed, max_backtracks=1))
        [b] = journey(JourneyConfig(seed=seed, max_backtracks=1))
        assert a["lines"] == b["lines"]
        roots[seed] = a["node_ids"][0]
    assert set(roots.values()) == {101, 103, 104}


def test_journey_follow_leaf_walks_a_valid_wrong_step_down_to_its_failure():
    [leaf] = journey(JourneyConfig(select="dead_end", follow="leaf", max_backtracks=1))
    assert leaf["lines"][:4] == ["7 * 1 = 7. Left: 3, 5, 7", "5 + 3 = 8. Left: 7, 8",
                                 "Wait, 7, 8 cannot make 22.", "Back to 1, 3, 5, 7."]


def test_journey_follow_step_only_takes_children_that_fail_at_once():
    [step] = journey(JourneyConfig(select="dead_end", follow="step", max_backtracks=1))
    assert step["lines"][:3] == ["7 - 1 = 6. Left: 3, 5, 6", "Wait, 3, 5, 6 cannot make 22.", "Back to 1, 3, 5, 7."]
    assert step["node_ids"] == [103, 102, 107, 108]


def _tokens(lines):
    return len(TASK.render_completion(lines, ANSWER).split())


def test_journey_token_budget_trims_wrong_trials_latest_first():
    [full] = journey(JourneyConfig(select="plausible"))
    # One token short of the full journey: the last trial (at 107) must go, the rest stays.
    [trimmed] = journey(JourneyConfig(select="plausible", max_tokens=_tokens(full["lines"]) - 1))
    assert trimmed["node_ids"] == [103, 102, 106, 107, 108]
    assert trimmed["lines"] == full["lines"][:8] + [S108]
    assert _tokens(trimmed["lines"]) <= _tokens(full["lines"]) - 1
    assert trimmed["n_backtracks"] == 2


def test_journey_token_budget_never_cuts_the_correct_path_or_answer():
    correct_only = _tokens([S102, S107, S108])
    # One token short of the smallest trial: every trial goes, the correct path is not cut.
    cfg = JourneyConfig(select="plausible", max_tokens=correct_only + 21)
    trajs, reason = journey_with_reason(tree_1357(), TASK, cfg, reflector=plain)
    assert trajs == []
    assert "max_tokens" in reason and f"take {correct_only}" in reason
    # Just room for the shortest trial: the 103 trial (9 + 7 + 6 whitespace tokens) is kept whole.
    [one] = journey(JourneyConfig(select="plausible", max_tokens=correct_only + 22))
    assert one["lines"] == ["7 - 1 = 6. Left: 3, 5, 6", "Wait, 3, 5, 6 cannot make 22.", "Back to 1, 3, 5, 7.",
                            S102, S107, S108]


def test_journey_token_budget_counts_with_the_given_tokenizer():
    [full] = journey(JourneyConfig(select="plausible"))
    chars = len(full["text"])
    [same] = journey(JourneyConfig(select="plausible", max_tokens=chars), tokenizer=len)
    [cut] = journey(JourneyConfig(select="plausible", max_tokens=chars - 1), tokenizer=len)
    assert same["n_backtracks"] == 3 and cut["n_backtracks"] == 2


def test_journey_without_any_wrong_sibling_is_skipped_with_a_reason():
    b = TreeBuilder([3, 5, 7], 22)
    n1 = b.step(b.root, "3 * 5 = 15. Left: 7, 15", VALID, {"nums": [7, 15], "exprs": ["7", "3 * 5"]})
    b.step(n1, "15 + 7 = 22. Left: 22", SOLUTION, {"nums": [22], "exprs": ["(3 * 5) + 7"]})
    # A valid sibling that was never expanded shows no mistake, so it cannot be a wrong trial.
    b.step(b.root, "5 + 7 = 12. Left: 3, 12", VALID, {"nums": [3, 12], "exprs": ["3", "5 + 7"]})
    trajs, reason = linearize_tree(b.G, TASK, "journey", None)
    assert trajs == []
    assert reason.startswith("no wrong trial beside the solution path")
    [shortcut] = linearize_tree(b.G, TASK, "shortcut", None)[0]
    assert shortcut["n_steps"] == 2


def test_journey_never_uses_a_branch_that_holds_another_solution_as_a_mistake():
    b = TreeBuilder([3, 5, 7], 22)
    n1 = b.step(b.root, "3 * 5 = 15. Left: 7, 15", VALID, {"nums": [7, 15], "exprs": ["7", "3 * 5"]})
    b.step(n1, "15 + 7 = 22. Left: 22", SOLUTION, {"nums": [22], "exprs": ["(3 * 5) + 7"]}, value=0.9)
    n3 = b.step(b.root, "5 * 3 = 15. Left: 7, 15", VALID, {"nums": [7, 15], "exprs": ["7", "5 * 3"]})
    b.step(n3, "15 - 7 = 8. Left: 8", DEAD_END, {"nums": [8], "exprs": ["(5 * 3) - 7"]}, reason="8 is not 22")
    b.step(n3, "7 + 15 = 22. Left: 22", SOLUTION, {"nums": [22], "exprs": ["7 + (5 * 3)"]}, value=0.1)
    trajs, reason = journey_with_reason(b.G, TASK, JourneyConfig(), reflector=plain)
    assert trajs == [] and reason.startswith("no wrong trial")


def test_journey_config_rejects_bad_options_by_name():
    with pytest.raises(ValueError, match="select='best'"):
        JourneyConfig(select="best")
    with pytest.raises(ValueError, match="follow='path'"):
        JourneyConfig(follow="path")
    with pytest.raises(ValueError, match="k=1"):
        JourneyConfig(k=1)
    with pytest.raises(ValueError, match="unknown option"):
        linearize_journey(tree_1357(), TASK, {"K": 2})
    with pytest.raises(ValueError, match="reflection='llm'"):
        linearize_journey(tree_1357(), TASK, {"reflection": "llm"})
