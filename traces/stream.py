"""Stream-of-search trajectories: the whole search, in visit order, up to the first solution.

The grammar, line by line against Stream of Search's own generator and checker, is docs/stream.md.

Renders a tree in the grammar of Stream of Search (Gandhi et al. 2024), with the task's own words
for states and operations (`Task.stream_state`, ...); for example:

    Current State: 22:[3, 5, 7], Operations: []
    Exploring Operation: 5+7=12, Resulting Numbers: [3, 12]
    Generated Node #0,0: 22:[3, 12] Operation: 5+7=12
    Moving to Node #0,0
    Current State: 22:[3, 12], Operations: ['5+7=12']
    ...
    22,22 equal: Goal Reached

Nodes are visited in `seq` (creation) order; a node is named by the indices of its legal
(non-invalid) ancestors among their siblings ("#0,1,0"). Two additions to the paper's grammar
cover what a model policy produces and a symbolic search does not: an illegal step renders as
`Exploring Operation: 9*8=64, Invalid Operation: 9 * 8 is 72, not 64`, and an oracle dead end
as `5, 64 cannot make 22: No Solution`. Steps are quoted as every trajectory quotes model text
(`Task.quote`, via `step_line`): up to the first frame marker, so that a step the model ran on into
`</think>` never closes the stream's reasoning early; an illegal step with nothing else in it is
left out. With `failed=True` a tree without a verified solution yields the stream of its whole
failed search (no goal line, no answer), as Stream of Search trained on.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import networkx as nx

from db.stored_tree import StoredTree
from search.tasks.base import DEAD_END, INVALID, SOLUTION, Task
from traces.options import as_config
from traces.problems import problem_of
from traces.trajectory import has_line, step_line, trajectory, verified_answer


@dataclass
class StreamConfig:
    """Options of the stream linearizer."""

    failed: bool = False
    """Also write the stream of a search that found no verified solution: every node in visit
    order, no goal line, and no answer after `</think>` (`is_correct` false). Stream of Search
    trained on such streams too. Off by default, so that every stream is a solved search; the SFT
    export keeps them only with `export.correct_only=false`, and a matched linearize run
    (`linearize.matched`) drops a tree that only a failed stream covers."""


def _state(tree: StoredTree, n: int) -> dict:
    state = tree.node(n).get("state")
    if not isinstance(state, dict):
        raise ValueError(f"tree {tree.tree_id!r}: node {n} has no `state`; the stream grammar renders states")
    return state


def _render(tree: StoredTree, n: int, task: Task, words) -> str:
    """`words(state)` (one of the task's stream renderings) of node `n`'s state; a state the task
    cannot render (not one of its states) is a ValueError naming the node, not a KeyError."""
    state = _state(tree, n)
    try:
        return words(state)
    except (KeyError, IndexError, TypeError, AttributeError) as e:
        raise ValueError(f"tree {tree.tree_id!r}: node {n} has no {task.name} state the stream grammar can "
                         f"render ({type(e).__name__}: {e}): {state!r}") from e


class _Names:
    """SoS node names: "#0" for the root, then the index among legal siblings at each level."""

    def __init__(self, tree: StoredTree):
        self.tree = tree
        self.names = {tree.root: "#0"}

    def __call__(self, n: int) -> str:
        if n not in self.names:
            parent = self.tree.parent(n)
            legal = [c for c in self.tree.children(parent) if self.tree.label(c) != INVALID]
            self.names[n] = f"{self(parent)},{legal.index(n)}"
        return self.names[n]


def _reason(tree: StoredTree, n: int, task: Task, default: str = "") -> str:
    """The node's stored reason as a stream line shows it (a reason may quote the model)."""
    return task.quote(tree.node(n).get("reason")).rstrip(".").strip() or default


def linearize_stream(G: StoredTree | nx.DiGraph, task: Task,
                     cfg: StreamConfig | dict | None = None) -> list[dict[str, Any]]:
    """The search up to its first verified solution (by `seq`), as one stream-of-search trajectory;
    with `cfg.failed`, a tree without one gives the stream of its whole search."""
    cfg = as_config(StreamConfig, cfg)
    if not task.stream_grammar:
        raise ValueError(f"the stream linearizer needs a stream-of-search grammar, which task "
                         f"{task.name!r} does not have; use shortcut or journey")
    tree = StoredTree.of(G)
    problem = problem_of(tree)
    solution, answer = None, None
    for sol in tree.solutions():
        answer = verified_answer(tree, task, problem, sol)
        if answer is not None:
            solution = sol
            break
    if solution is None and not cfg.failed:
        return []

    root = tree.root
    name = _Names(tree)

    def current_state(n: int) -> str:
        ops = [f"'{task.stream_operation(step_line(tree, a, task))}'" for a in tree.path(n)[1:]]
        return f"Current State: {_render(tree, n, task, task.stream_state)}, Operations: [{', '.join(ops)}]"

    lines = [current_state(root)]
    node_ids: list[int] = []
    focus, backtracks = root, 0
    last = tree.seq(solution) if solution is not None else None
    visit = [n for n in tree.ordered_nodes() if n != root and (last is None or tree.seq(n) <= last)]
    for n in visit:
        kind = tree.label(n)
        if kind == INVALID and not has_line(tree, n, task):
            continue  # the model wrote nothing but a newline or frame markers: no operation to show
        parent = tree.parent(n)
        if parent != focus:
            # Moving anywhere but down to a child of the current node is a backtrack.
            backtracks += tree.parent(parent) != focus
            lines += [f"Moving to Node {name(parent)}", current_state(parent)]
            focus = parent
        line = step_line(tree, n, task)
        op = task.stream_operation(line) or re.sub(r"\s+", "", line)  # a line that is all `Left: ...`
        node_ids.append(n)
        if kind == INVALID:
            lines.append(f"Exploring Operation: {op}, Invalid Operation: {_reason(tree, n, task, 'not a legal step')}")
            continue
        lines.append(f"Exploring Operation: {op}, Resulting Numbers: {_render(tree, n, task, task.stream_result)}")
        if kind == SOLUTION and n == solution:
            lines.append(_render(tree, n, task, task.stream_goal_reached))
            break
        lines.append(f"Generated Node {name(n)}: {_render(tree, n, task, task.stream_state)} Operation: {op}")
        if kind == DEAD_END:
            reason = _reason(tree, n, task)
            lines.append(f"{reason}: No Solution" if reason else "No Solution")

    if not node_ids:
        return []  # a failed search that never took a step has nothing to show
    return [trajectory(tree, task, problem, kind="stream", idx=0, lines=lines, node_ids=node_ids,
                       answer=answer, n_steps=len(node_ids), n_backtracks=backtracks)]
