"""Stream linearizer: the whole search in visit order, in the Stream of Search grammar."""
from __future__ import annotations

import pytest

from search.tasks.base import SOLUTION, VALID
from tests.linearize_trees import countdown_task, TreeBuilder, tree_1357
from traces.stream import linearize_stream

TASK = countdown_task()


def test_stream_renders_the_search_in_visit_order_with_sos_grammar():
    [traj] = linearize_stream(tree_1357(), TASK)
    assert traj["lines"] == [
        "Current State: 22:[1, 3, 5, 7], Operations: []",
        "Exploring Operation: 7*1=7, Resulting Numbers: [3, 5, 7]",
        "Generated Node #0,0: 22:[3, 5, 7] Operation: 7*1=7",
        "Exploring Operation: 3*5=15, Resulting Numbers: [1, 7, 15]",
        "Generated Node #0,1: 22:[1, 7, 15] Operation: 3*5=15",
        "Exploring Operation: 7-1=6, Resulting Numbers: [3, 5, 6]",
        "Generated Node #0,2: 22:[3, 5, 6] Operation: 7-1=6",
        "3, 5, 6 cannot make 22: No Solution",
        "Exploring Operation: 3+5=9, Invalid Operation: 3 + 5 is 8, not 9",
        "Moving to Node #0,0",
        "Current State: 22:[3, 5, 7], Operations: ['7*1=7']",
        "Exploring Operation: 5+3=8, Resulting Numbers: [7, 8]",
        "Generated Node #0,0,0: 22:[7, 8] Operation: 5+3=8",
        "7, 8 cannot make 22: No Solution",
        "Moving to Node #0,1",
        "Current State: 22:[1, 7, 15], Operations: ['3*5=15']",
        "Exploring Operation: 15-1=14, Resulting Numbers: [7, 14]",
        "Generated Node #0,1,0: 22:[7, 14] Operation: 15-1=14",
        "7, 14 cannot make 22: No Solution",
        "Exploring Operation: 15+7=22, Resulting Numbers: [1, 22]",
        "Generated Node #0,1,1: 22:[1, 22] Operation: 15+7=22",
        "Moving to Node #0,1,1",
        "Current State: 22:[1, 22], Operations: ['3*5=15', '15+7=22']",
        "Exploring Operation: 22*1=22, Resulting Numbers: [22]",
        "22,22 equal: Goal Reached",
    ]
    # Node 109 was created after the solution: the stream stops at the goal.
    assert traj["node_ids"] == [101, 102, 103, 104, 105, 106, 107, 108]
    assert traj["answer"] == "((3 * 5) + 7) * 1" and traj["is_correct"]
    # Only the move from node #0,0 across to #0,1 goes back up the tree.
    assert (traj["kind"], traj["n_steps"], traj["n_backtracks"]) == ("stream", 8, 1)
    assert traj["text"].endswith("22,22 equal: Goal Reached\n</think>\n<answer>((3 * 5) + 7) * 1</answer>")


def test_operation_of_reads_the_equation_of_a_countdown_line():
    assert TASK.stream_operation("9 * 8 = 64. Left: 3, 64") == "9*8=64"
    assert TASK.stream_operation("15 + 7 = 22") == "15+7=22"


def test_stream_refuses_trees_without_countdown_states():
    b = TreeBuilder([3, 5, 7], 22)
    n1 = b.step(b.root, "3 * 5 = 15. Left: 7, 15", VALID, {"nums": [7, 15], "exprs": ["7", "3 * 5"]})
    b.step(n1, "15 + 7 = 22. Left: 22", SOLUTION, {"nums": [22], "exprs": ["(3 * 5) + 7"]})
    b.G.nodes[b.root]["state"] = {"expr": "x"}
    with pytest.raises(ValueError, match="(?i)node 100 has no countdown state"):
        linearize_stream(b.G, TASK)
