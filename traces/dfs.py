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


def linearize_dfs(G: StoredTree | nx.DiGraph, task: Task, cfg: DFSConfig | dict | None = None) -> list[dict[str, Any]]:
    """The tried steps of the tree up to its first verified solution, depth first, as one trajectory."""
    cfg = as_config(DFSConfig, cfg)
    tree = StoredTree.of(G)
    problem = problem_of(tree)
    solution = answer = None
    for sol in tree.solutions():
        answer = verified_answer(tree, task, problem, sol)
        if answer is not None:
            solution = sol
            break
    if solution is None:
        return []
    lines: list[str] = []
    node_ids: list[int] = []
    backtracks = 0
    path: list[int] = []          # tried nodes from the root's child down to the current one
    stack = [(tree.root, False)]
    while stack:
        n, _ = stack.pop()
        if n != tree.root:
            parent = tree.parent(n)
            while path and path[-1] != parent:      # back up to this node's parent, undoing each step
                lines.append(cfg.undo.format(step=step_line(tree, path.pop(), task)))
            lines.append(step_line(tree, n, task))
            node_ids.append(n)
            path.append(n)
            if n == solution:
                break
        tried = [c for c in tree.children(n) if _tried(tree, c, solution)]
        if not tried and n != tree.root:
            reason = task.quote(task.describe_failure(tree.node(n)) or "").strip().rstrip(".").strip()
            lines.append(cfg.failure.format(reason=reason or "this does not work"))
            backtracks += 1
        stack.extend((c, False) for c in reversed(tried))
    else:
        return []   # the solution was never reached through tried nodes: not a depth-first tree
    return [trajectory(tree, task, problem, kind="dfs", idx=0, lines=lines, node_ids=node_ids,
                       answer=answer, n_steps=len(node_ids), n_backtracks=backtracks)]
