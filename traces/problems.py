"""A stored problem row, or a stored tree's, as the task's `Problem`: the one place traces/ converts one."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import networkx as nx

from db.stored_tree import StoredTree
from search.tasks.base import Problem


def as_problem(problem: Problem | Mapping[str, Any], where: str = "problem") -> Problem:
    """A `Problem` from a store problem dict (`key`, `payload`, ...); errors name `where`."""
    if isinstance(problem, Problem):
        return problem
    for field in ("key", "payload"):
        if field not in problem or problem[field] is None:
            raise ValueError(f"{where} has no {field!r} field (got fields {sorted(problem)})")
    return Problem.from_row({**problem, "key": str(problem["key"]), "payload": dict(problem["payload"])})


def problem_of(tree: StoredTree | nx.DiGraph) -> Problem:
    """The problem of a stored tree (or of its graph) as a task `Problem`."""
    tree = StoredTree.of(tree)
    return as_problem(tree.problem, f"the problem of tree {tree.tree_id!r}")


__all__ = ["as_problem", "problem_of"]
