"""Depth-first traces: the steps a search tried, in the order it tried them, each failure closed by
its reason and the steps it undoes, then the next try (the DFS traces of Qin et al., "To Backtrack
or Not to Backtrack", arXiv 2504.07052, which beat solution-only training on a puzzle with deep searches).

Where the stream kind renders the whole search in Stream of Search's grammar (every generated
child, and at each move the state with every operation since the root, which grows with the square
of the depth: thousands of tokens for a search 20 steps deep), this kind writes one line per tried
step and two per backtrack, so a search of depth d costs about d lines:

    r1c1=1
    r1c2 can hold no digit
    undo r1c1=1
    r1c1=3
    ...

A node was tried when the search expanded it (`expansions` > 0) or it is the solution; the tried
nodes are walked depth-first, children in creation order, which is the visit order of a depth-first
search that expands the oldest child first (`search=dfs search.best_first=true` with equal scores).
A tried node none of whose children was tried is a failure: its line is followed by the task's words
for what went wrong (`Task.describe_failure`, e.g. the node's stored reason) and by an `undo` line for
each step back up to the node the search continues from. Untried siblings are not shown.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx

from db.stored_tree import StoredTree
from search.tasks.base import Task
from traces.options import as_config
from traces.problems import problem_of
from traces.trajectory import step_line, trajectory, verified_answer


@dataclass
class DFSConfig:
    """Options of the depth-first trace linearizer."""

    undo: str = "undo {step}"
    """The line written for each step a backtrack takes back (`{step}` is the step's own line)."""
    failure: str = "{reason}"
    """The line after a failed try (`{reason}`: the task's words for what went wrong)."""


def _tried(tree: StoredTree, n: int, solution: int) -> bool:
    return n == solution or bool(tree.node(n).get("expansions") or 0) or bool(tree.children(n))


@dataclass(frozen=True)
class TraceLine:
    """One line of a depth-first trace and where it came from."""

    text: str
    node: int | None
    """The tried node this line writes (None for failure and undo lines)."""
    detour: int | None
    """The abandoned try this line belongs to: the first node off the solution path on the way to
    the line's node (its own, the failed one's or the undone one's); None on the solution path."""
    failure: bool = False


def first_verified_solution(tree: StoredTree, task: Task) -> tuple[int, str] | None:
    """The tree's first solution whose answer verifies, and that answer."""
    problem = problem_of(tree)
    for sol in tree.solutions():
        answer = verified_answer(tree, task, problem, sol)
        if answer is not None:
            return sol, answer
    return None


def dfs_lines(tree: StoredTree, task: Task, cfg: DFSConfig, solution: int) -> list[TraceLine] | None:
    """The tried steps, depth first up to `solution`, with failure and undo lines; None when the
    solution is not reached through tried nodes (not a depth-first tree)."""
    on_path = set(tree.path(solution))

    def detour(n: int) -> int | None:
        top = None
        while n not in on_path:
            top, n = n, tree.parent(n)
        return top

    lines: list[TraceLine] = []
    path: list[int] = []          # tried nodes from the root's child down to the current one
    stack = [tree.root]
    while stack:
        n = stack.pop()
        if n != tree.root:
            parent = tree.parent(n)
            while path and path[-1] != parent:      # back up to this node's parent, undoing each step
                undone = path.pop()
                lines.append(TraceLine(cfg.undo.format(step=step_line(tree, undone, task)), None, detour(undone)))
            lines.append(TraceLine(step_line(tree, n, task), n, detour(n)))
            path.append(n)
            if n == solution:
                return lines
        tried = [c for c in tree.children(n) if _tried(tree, c, solution)]
        if not tried and n != tree.root:
            reason = task.quote(task.describe_failure(tree.node(n)) or "").strip().rstrip(".").strip()
            lines.append(TraceLine(cfg.failure.format(reason=reason or "this does not work"), None, detour(n),
                                   failure=True))
        stack.extend(reversed(tried))
    return None


def trace_trajectory(tree: StoredTree, task: Task, kind: str, lines: list[TraceLine], answer: str) -> dict[str, Any]:
    """The trajectory dict of a depth-first trace's lines."""
    node_ids = [ln.node for ln in lines if ln.node is not None]
    return trajectory(tree, task, problem_of(tree), kind=kind, idx=0, lines=[ln.text for ln in lines],
                      node_ids=node_ids, answer=answer, n_steps=len(node_ids),
                      n_backtracks=sum(ln.failure for ln in lines))


def solved_trace(G: StoredTree | nx.DiGraph, task: Task,
                 cfg: DFSConfig) -> tuple[StoredTree, list[TraceLine], str] | None:
    """The tree, its depth-first trace up to the first verified solution, and that solution's answer;
    None when the tree has no verified solution or is not a depth-first tree."""
    tree = StoredTree.of(G)
    found = first_verified_solution(tree, task)
    lines = None if found is None else dfs_lines(tree, task, cfg, found[0])
    return None if lines is None else (tree, lines, found[1])


def linearize_dfs(G: StoredTree | nx.DiGraph, task: Task, cfg: DFSConfig | dict | None = None) -> list[dict[str, Any]]:
    """The tried steps of the tree up to its first verified solution, depth first, as one trajectory."""
    traced = solved_trace(G, task, as_config(DFSConfig, cfg))
    return [] if traced is None else [trace_trajectory(traced[0], task, "dfs", traced[1], traced[2])]
