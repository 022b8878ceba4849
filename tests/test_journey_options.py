"""Issue 15's journey options on hand-built trees: mixed backtrack counts, several journeys per
tree, checks after correct steps only (with true content), and the spans that loss masking uses."""
from __future__ import annotations

import operator
import random
from collections import Counter
from fractions import Fraction

import pytest

from search.tasks.countdown.equations import equations
from tests.linearize_trees import countdown_task, random_tree, tree_1357
from traces.journey import JourneyConfig, line_spans, linearize_journey

TASK = countdown_task()
OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
CORRECT = {"3 * 5 = 15. Left: 1, 7, 15", "15 + 7 = 22. Left: 1, 22", "22 * 1 = 22. Left: 22"}


def test_a_backtrack_distribution_mixes_counts_over_a_set_of_journeys():
    counts = Counter()
    for seed in range(200):
        [traj] = linearize_journey(tree_1357(), TASK, JourneyConfig(backtracks=[1, 1, 1, 1], seed=seed))
        counts[traj["n_backtracks"]] += 1
        assert traj["is_correct"]
    # tree_1357 offers 3 trials (k=2: one per correct-path node), so 0..3 are all reachable.
    assert set(counts) == {0, 1, 2, 3}
    assert all(30 < n < 70 for n in counts.values()), counts
    # The default keeps O1-Journey's constant count: every journey takes all it can.
    assert {linearize_journey(tree_1357(), TASK, JourneyConfig(seed=s))[0]["n_backtracks"] for s in range(20)} == {3}


def test_zero_backtracks_is_the_direct_solution_and_weights_pin_the_count():
    [traj] = linearize_journey(tree_1357(), TASK, JourneyConfig(backtracks=[1, 0, 0]))
    assert traj["n_backtracks"] == 0 and traj["lines"] == [
        "3 * 5 = 15. Left: 1, 7, 15", "15 + 7 = 22. Left: 1, 22", "22 * 1 = 22. Left: 22"]
    [two] = linearize_journey(tree_1357(), TASK, JourneyConfig(backtracks=[0, 0, 1]))
    assert two["n_backtracks"] == 2


def test_several_journeys_per_tree_differ_and_are_numbered():
    rows = linearize_journey(tree_1357(), TASK, JourneyConfig(backtracks=[1, 1, 1, 1], per_tree=4, seed=3))
    assert 2 <= len(rows) <= 4
    assert [r["idx"] for r in rows] == list(range(len(rows)))
    assert len({r["text"] for r in rows}) == len(rows)


def test_checks_follow_correct_steps_only_and_state_true_facts():
    [traj] = linearize_journey(tree_1357(), TASK, JourneyConfig(checks=1.0, seed=1))
    lines = traj["lines"]
    check_at = [i for i, line in enumerate(lines) if "checks out" in line or "so far" in line.lower()
                or "this step is fine" in line]
    assert check_at, lines
    for i in check_at:
        before = lines[i - 1]
        assert before in CORRECT, (before, lines[i])  # never after a mistake or a reflection
        # the check's equation is the step's own, and true arithmetic
        assert equations(lines[i])[0] == equations(before)[0]
        assert "can still make 22" in lines[i]
    # the final (answer) step has no check after it
    assert lines[-1] == "22 * 1 = 22. Left: 22"
    roles = Counter(s["role"] for s in traj["spans"])
    assert roles["check"] == len(check_at) and roles["mistake"] == traj["n_backtracks"]


def test_checks_on_random_trees_never_follow_a_wrong_step():
    rng = random.Random(5)
    seen = 0
    for _ in range(40):
        G = random_tree(rng, 30)
        for traj in linearize_journey(G, TASK, JourneyConfig(checks=1.0, backtracks=[1, 1, 1], per_tree=2)):
            text = traj["text"]
            for span in traj["spans"]:
                if span["role"] != "check":
                    continue
                seen += 1
                before = text[:span["start"]].rstrip("\n").rsplit("\n", 1)[-1]
                # the line before a check is a step whose equation is right (the check repeats it)
                a, op, b, _, c = equations(before)[0].split()
                assert OPS[op](Fraction(a), Fraction(b)) == Fraction(c), before
                assert equations(text[span["start"]:span["end"]])[0] == equations(before)[0]
    assert seen > 10


def test_spans_locate_each_role_in_the_text():
    [traj] = linearize_journey(tree_1357(), TASK, JourneyConfig(select="plausible", checks=1.0, seed=2))
    text = traj["text"]
    mistakes = [text[s["start"]:s["end"]] for s in traj["spans"] if s["role"] == "mistake"]
    assert mistakes == ["7 - 1 = 6. Left: 3, 5, 6", "15 - 1 = 14. Left: 7, 14", "22 - 1 = 21. Left: 21"]
    for s in traj["spans"]:
        if s["role"] == "reflection":
            assert "\n" in text[s["start"]:s["end"]]  # the reflection and its return line
    assert line_spans("a\nb\na", ["a", "b", "a"], ["mistake", "step", "mistake"]) == [
        {"role": "mistake", "start": 0, "end": 1}, {"role": "mistake", "start": 4, "end": 5}]


@pytest.mark.parametrize("bad, message", [
    ({"backtracks": []}, "backtracks"), ({"backtracks": [0, 0]}, "backtracks"), ({"backtracks": [-1, 2]}, "backtracks"),
    ({"per_tree": 0}, "per_tree"), ({"checks": 1.5}, "checks")])
def test_bad_options_name_themselves(bad, message):
    with pytest.raises(ValueError, match=message):
        JourneyConfig(**bad)


def test_an_empty_sampled_line_never_becomes_a_trial():
    from search.tasks.base import INVALID
    from tests.linearize_trees import TreeBuilder

    b = TreeBuilder([1, 3, 5, 7], 22)
    G = tree_1357()
    # the model wrote only a newline under the root: an invalid step with no text
    b.G, b.seq = G, 10  # node 110, after tree_1357's nine
    b.step(G.graph["root"], "", INVALID, reason="it is not a step of the form 'a + b = c'")
    for seed in range(10):
        for traj in linearize_journey(G, TASK, JourneyConfig(k=4, backtracks=[0, 0, 0, 1], seed=seed)):
            assert all(line.strip() for line in traj["lines"])
