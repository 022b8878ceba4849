"""Hand-built and random Countdown trees for the linearizer tests, and the task they use.

Trees have the shape `TraceStore.tree` returns: node id keys (ids differ from `seq` on purpose,
so that code mixing the two fails), the `nodes` columns as attributes, and `G.graph` with
`tree_id`, `root` and `problem`.
"""
from __future__ import annotations

import random

import networkx as nx

from search.tasks import make_task
from search.tasks.base import DEAD_END, INVALID, ROOT, SOLUTION, VALID, Task
from search.tasks.countdown.solver import legal_steps


def countdown_task() -> Task:
    """The project's Countdown task (real step checker, safe verifier, real instructions)."""
    return make_task({"name": "countdown"})


class TreeBuilder:
    """Builds a tree node by node; `seq` follows call order and ids are 100 + seq."""

    def __init__(self, nums: list[int], target: int, tree_id: int = 7):
        self.G = nx.DiGraph()
        problem = {"id": 1, "dataset": "countdown", "key": f"{nums}->{target}", "split": "train",
                   "payload": {"nums": list(nums), "target": target}, "answer": None}
        self.G.graph.update(tree_id=tree_id, root=100, problem=problem)
        self.seq = 0
        self.target = target
        self.root = self._add(None, "", {"nums": list(nums), "exprs": [str(n) for n in nums], "target": target},
                              ROOT, None, None, 0.0)

    def _add(self, parent, text, state, label, reason, logprob, value) -> int:
        node = 100 + self.seq
        depth = 0 if parent is None else self.G.nodes[parent]["depth"] + 1
        self.G.add_node(node, parent_id=parent, seq=self.seq, depth=depth, text=text, token_ids=None,
                        state=state, label=label, reason=reason, reward=None, value=value, visits=1,
                        logprob=logprob, finish_reason="stop", count=1)
        if parent is not None:
            self.G.add_edge(parent, node)
        self.seq += 1
        return node

    def step(self, parent: int, text: str, label: str, state: dict | None = None, reason: str | None = None,
             logprob: float | None = None, value: float = 0.0) -> int:
        """Add a child of `parent` with its line, label and (hand-computed) state."""
        if state is not None and "target" not in state:
            state = {**state, "target": self.target}
        return self._add(parent, text, state, label, reason, logprob, value)


def tree_1357() -> nx.DiGraph:
    """[1, 3, 5, 7] -> 22. Correct path 102, 107, 108; wrong children at every correct-path node.

    100 root 1, 3, 5, 7
    |- 101 "7 * 1 = 7"   valid (lp -2.0)
    |   `- 105 "5 + 3 = 8"  dead_end "7, 8 cannot make 22"
    |- 102 "3 * 5 = 15"  valid (lp -0.5)                  <- correct
    |   |- 106 "15 - 1 = 14" dead_end "7, 14 cannot make 22"
    |   `- 107 "15 + 7 = 22" valid                         <- correct
    |       |- 108 "22 * 1 = 22" solution                  <- correct
    |       `- 109 "22 - 1 = 21" dead_end "21 is not 22"
    |- 103 "7 - 1 = 6"   dead_end "3, 5, 6 cannot make 22" (lp -1.0)
    `- 104 "3 + 5 = 9"   invalid "3 + 5 is 8, not 9" (lp -3.0)
    """
    b = TreeBuilder([1, 3, 5, 7], 22)
    r = b.root
    n101 = b.step(r, "7 * 1 = 7. Left: 3, 5, 7", VALID, {"nums": [3, 5, 7], "exprs": ["3", "5", "7 * 1"]}, logprob=-2.0)
    n102 = b.step(r, "3 * 5 = 15. Left: 1, 7, 15", VALID, {"nums": [1, 7, 15], "exprs": ["1", "7", "3 * 5"]},
                  logprob=-0.5)
    b.step(r, "7 - 1 = 6. Left: 3, 5, 6", DEAD_END, {"nums": [3, 5, 6], "exprs": ["3", "5", "7 - 1"]},
           reason="3, 5, 6 cannot make 22", logprob=-1.0)
    b.step(r, "3 + 5 = 9. Left: 1, 7, 9", INVALID, reason="3 + 5 is 8, not 9", logprob=-3.0)
    b.step(n101, "5 + 3 = 8. Left: 7, 8", DEAD_END, {"nums": [7, 8], "exprs": ["7 * 1", "5 + 3"]},
           reason="7, 8 cannot make 22")
    b.step(n102, "15 - 1 = 14. Left: 7, 14", DEAD_END, {"nums": [7, 14], "exprs": ["7", "(3 * 5) - 1"]},
           reason="7, 14 cannot make 22")
    n107 = b.step(n102, "15 + 7 = 22. Left: 1, 22", VALID, {"nums": [1, 22], "exprs": ["1", "(3 * 5) + 7"]})
    b.step(n107, "22 * 1 = 22. Left: 22", SOLUTION, {"nums": [22], "exprs": ["((3 * 5) + 7) * 1"]}, value=1.0)
    b.step(n107, "22 - 1 = 21. Left: 21", DEAD_END, {"nums": [21], "exprs": ["((3 * 5) + 7) - 1"]},
           reason="21 is not 22")
    return b.G


def random_tree(rng: random.Random, n_nodes: int, error_rate: float = 0.3) -> nx.DiGraph:
    """A random Countdown tree with real states and labels from the project's step checker.

    The target comes from a random legal path, so the problem is solvable; nodes are added by
    expanding random open nodes with random legal or deliberately wrong lines, and the planned
    solution path is grown along the way so that most trees contain a solution.
    """
    nums = [rng.randint(1, 9) for _ in range(rng.choice([3, 4]))]
    plan, cur = [], list(nums)
    while len(cur) > 1:
        a, op, b, c = rng.choice(legal_steps(cur))
        cur = list(cur)
        cur.remove(a)
        cur.remove(b)
        cur.append(c)
        plan.append((a, op, b, c, list(cur)))
    target = cur[0]
    task = countdown_task()
    builder = TreeBuilder(nums, target, tree_id=rng.randint(1, 10**6))
    G = builder.G
    planned_at, planned_node = 0, builder.root

    def add(parent: int, text: str) -> int:
        result = task.apply_step(G.nodes[parent]["state"], text)
        return builder.step(parent, text, result.label, result.state, result.reason, logprob=-rng.random() * 5)

    for _ in range(n_nodes):
        if planned_at < len(plan) and rng.random() < 0.35:
            a, op, b, c, left = plan[planned_at]
            planned_node = add(planned_node, f"{a} {op} {b} = {c}. Left: {', '.join(map(str, left))}")
            planned_at += 1
            continue
        open_nodes = [n for n in G if G.nodes[n]["label"] in (ROOT, VALID)]
        parent = rng.choice(open_nodes)
        state_nums = G.nodes[parent]["state"]["nums"]
        a, op, b, c = rng.choice(legal_steps(state_nums))
        left = list(state_nums)
        left.remove(a)
        left.remove(b)
        if rng.random() < error_rate:
            c = c + rng.choice([1, 2, 10])  # an arithmetic slip
        left.append(c)
        add(parent, f"{a} {op} {b} = {c}. Left: {', '.join(map(str, left))}")
    return G
