"""Every stream the suite makes keeps the grammar of docs/stream.md and reads as a valid path to
Stream of Search's own checker (tests/sos_grammar.py), failed searches' streams included."""
from __future__ import annotations

import random

import pytest

from db import TraceStore
from search.algorithms import SearchSettings, make_algorithm
from search.explorer import Explorer, ExploreSettings
from search.policies.scripted import ScriptedPolicy
from search.tasks import make_task
from search.tasks.base import DEAD_END, INVALID, SOLUTION, VALID
from tests.linearize_trees import TreeBuilder, countdown_task, random_tree, tree_1357
from tests.sos_grammar import check_stream, sos_parse_trajectory, stream_body
from traces.linearize import linearize_tree
from traces.stream import StreamConfig, linearize_stream

TASK = countdown_task()


def assert_grammar(traj: dict) -> None:
    """A stream trajectory keeps the documented grammar; a solved one is a valid path to SoS."""
    solved = traj["answer"] is not None
    body = stream_body(traj["text"])
    assert check_stream(body, solved) is None, (check_stream(body, solved), traj["text"])
    assert traj["text"].count("</think>") == 1 and traj["text"].count("<answer>") == int(solved)
    if solved:
        assert sos_parse_trajectory(body) == "Valid path.", traj["text"]


def test_the_documented_stream_is_a_valid_path_to_both_readers():
    [traj] = linearize_stream(tree_1357(), TASK)
    assert_grammar(traj)


@pytest.mark.parametrize("broken, why", [
    ("Exploring Operation: 7*1=7, Resulting Numbers: [3, 5, 7]\n"
     "Exploring Operation: 9*5=45, Resulting Numbers: [1, 3, 45]", "9, which is not available"),
    ("Exploring Operation: 7*1=8, Resulting Numbers: [3, 5, 8]", "wrong arithmetic"),
    ("Moving to Node #0,4", "never generated"),
    ("Exploring Operation: 9+(5*2)</think>, Invalid Operation: it is not a step", "frame marker"),
    ("22,22 equal: Goal Reached", "must follow an operation"),
])
def test_the_strict_checker_names_the_broken_line(broken, why):
    body = "Current State: 22:[1, 3, 5, 7], Operations: []\n" + broken
    assert why in (check_stream(body, solved=False) or "")


def test_a_quoted_think_close_is_what_made_sos_reject_streams():
    # The demo's streams before issue 27: a reasoning parser stops at the step's `</think>`.
    [traj] = linearize_stream(tree_1357(), TASK)
    lines = traj["text"].split("\n")
    at = next(i for i, line in enumerate(lines) if "Invalid Operation" in line)
    lines[at] = "Exploring Operation: 9+(5*2)</think>, Invalid Operation: it is not a step"
    assert sos_parse_trajectory(stream_body("\n".join(lines))) == "No goal reached statement found."


def test_steps_that_ran_into_frame_markers_stream_without_them():
    b = TreeBuilder([3, 5, 7], 22)
    b.step(b.root, "9+(5*2)</think>", INVALID, reason="it is not a step of the form 'a + b = c'")
    b.step(b.root, "</think>", INVALID, reason="it is not a step of the form 'a + b = c'")
    b.step(b.root, "<|im_end|>", INVALID, reason="it is not a step of the form 'a + b = c'")
    n1 = b.step(b.root, "3 * 5 = 15. Left: 7, 15</think>", VALID, {"nums": [7, 15], "exprs": ["7", "3 * 5"]})
    b.step(n1, "15 + 7 = 22</think>\n<answer>(3 * 5) + 7</answer>", SOLUTION, {"nums": [22], "exprs": ["(3 * 5) + 7"]})
    [traj] = linearize_stream(b.G, TASK)
    assert_grammar(traj)
    assert "Exploring Operation: 9+(5*2), Invalid Operation: it is not a step of the form 'a + b = c'" in traj["lines"]
    # Nothing but markers: no operation to show, and no node in the trajectory.
    assert traj["node_ids"] == [101, 104, 105]
    assert b.G.nodes[101]["text"] == "9+(5*2)</think>"   # the store keeps what the model wrote


def test_every_hand_made_tree_streams_in_the_grammar_solved_or_failed():
    rng = random.Random(27)
    solved = failed = 0
    for _ in range(150):
        G = random_tree(rng, rng.randint(3, 25), error_rate=rng.choice([0.1, 0.4, 0.8]))
        for traj in linearize_stream(G, TASK, {"failed": True}):
            assert_grammar(traj)
            solved += traj["is_correct"]
            failed += not traj["is_correct"]
    assert solved > 20 and failed > 5


def test_failed_streams_only_when_asked_and_without_goal_or_answer():
    b = TreeBuilder([3, 5, 7], 100)
    n1 = b.step(b.root, "3 * 5 = 15. Left: 7, 15", VALID, {"nums": [7, 15], "exprs": ["7", "3 * 5"]})
    b.step(n1, "15 + 7 = 22. Left: 22", DEAD_END, {"nums": [22], "exprs": ["(3 * 5) + 7"]}, reason="22 is not 100")
    assert linearize_stream(b.G, TASK) == [] and StreamConfig().failed is False
    [traj] = linearize_stream(b.G, TASK, {"failed": True})
    assert traj["lines"] == [
        "Current State: 100:[3, 5, 7], Operations: []",
        "Exploring Operation: 3*5=15, Resulting Numbers: [7, 15]",
        "Generated Node #0,0: 100:[7, 15] Operation: 3*5=15",
        "Moving to Node #0,0",
        "Current State: 100:[7, 15], Operations: ['3*5=15']",
        "Exploring Operation: 15+7=22, Resulting Numbers: [22]",
        "Generated Node #0,0,0: 100:[22] Operation: 15+7=22",
        "22 is not 100: No Solution",
    ]
    assert traj["text"].endswith("22 is not 100: No Solution\n</think>")
    assert (traj["answer"], traj["is_correct"]) == (None, False)
    assert_grammar(traj)


class RunOnPolicy(ScriptedPolicy):
    """The scripted policy as a model that runs past its stop strings: some steps carry `</think>`,
    an answer or a chat template's end token after them, some are nothing but a marker."""

    TAILS = ("</think>", "</think>\n<answer>(1 + 2) * 3</answer>", "<|im_end|>", " <answer>")

    def generate(self, requests):
        out = super().generate(requests)
        for i, completions in enumerate(out):
            for j, c in enumerate(completions):
                pick = (i * 7 + j * 3 + len(c.text)) % 6
                if pick < len(self.TAILS):
                    c.text = c.text + self.TAILS[pick]
                elif pick == 5 and j == 0:
                    c.text = "</think>"
        return out


def test_explored_trees_stream_in_the_grammar_and_no_trace_quotes_a_marker(sqlite_url):
    task = make_task({"name": "countdown", "n_train": 10, "n_test": 2, "seed": 5})
    store = TraceStore(sqlite_url)
    problems = task.load_problems()
    ids = store.add_problems([p.row() for p in problems])
    run_id = store.start_run("t", "explore", {})
    store.create_trees(run_id, [i for p, i in zip(problems, ids) if p.split == "train"])
    algo = make_algorithm(SearchSettings(algorithm="mcts", k=3, max_expansions=2))
    Explorer(store, task, RunOnPolicy(task, error_rate=0.6, seed=4), algo, ExploreSettings(progress=False)).run(run_id)
    trees = store.trees(run_id)
    graphs = store.tree_graphs([t["id"] for t in trees])
    stored = [d["text"] for G in graphs.values() for _, d in G.nodes(data=True)]
    assert sum("</think>" in t or "<|im_end|>" in t for t in stored) > 10   # stored as generated
    kinds = {"shortcut": 0, "journey": 0, "stream": 0}
    failed = 0
    for G in graphs.values():
        for kind in kinds:
            rows, _ = linearize_tree(G, task, kind, {"failed": True} if kind == "stream" else None)
            for traj in rows:
                kinds[kind] += 1
                if kind == "stream":
                    assert_grammar(traj)
                    failed += not traj["is_correct"]
                else:
                    assert traj["text"].count("</think>") == 1 and traj["text"].count("<answer>") == 1
                    assert "<|" not in traj["text"]
    assert min(kinds.values()) > 0 and failed > 0, (kinds, failed)
