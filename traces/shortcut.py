"""Shortcut trajectories: only the correct root-to-solution path ("shortcut learning").

The model trained on these only ever sees clean solutions (O1 Replication Journey, Qin et al.
2024, section on shortcut vs journey learning).
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
class ShortcutConfig:
    """Options of the shortcut linearizer."""

    all_solutions: bool = False
    """One trajectory per distinct solution (best first, idx 0..) instead of only the best one.
    "Best" is fewest steps, then highest backed-up value, then earliest created."""


def linearize_shortcut(G: StoredTree | nx.DiGraph, task: Task,
                       cfg: ShortcutConfig | dict | None = None) -> list[dict[str, Any]]:
    """The root-to-solution path(s) of a tree, each rendered as one trajectory with 0 backtracks.

    Solutions whose final answer the task's verifier rejects are left out; a tree without a
    verified solution yields an empty list.
    """
    cfg = as_config(ShortcutConfig, cfg)
    tree = StoredTree.of(G)
    problem = problem_of(tree)
    out: list[dict[str, Any]] = []
    seen_texts: set[str] = set()
    for sol in tree.best_solutions():
        answer = verified_answer(tree, task, problem, sol)
        if answer is None:
            continue
        steps = tree.path(sol)[1:]
        lines = [step_line(tree, n, task) for n in steps]
        # Two solution nodes with the same lines (e.g. merged later by another wave) are one
        # solution for training purposes.
        if task.join_steps(lines) in seen_texts:
            continue
        seen_texts.add(task.join_steps(lines))
        out.append(
            trajectory(tree, task, problem, kind="shortcut", idx=len(out), lines=lines, node_ids=steps,
                       answer=answer, n_steps=len(steps), n_backtracks=0)
        )
        if not cfg.all_solutions:
            break
    return out
