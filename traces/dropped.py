"""Depth-first traces with abandoned tries randomly dropped (Dualformer, Su et al. 2024: training on
A* traces with seeded parts removed taught mazes and Sokoban with shorter answers than full traces,
and as well or better).

Each abandoned try of the dfs trace (traces/dfs.py) is a detour off the solution path: its step, the
steps below it, its failure lines and the undo lines back to the path. This kind keeps or removes each
detour whole, removing it with probability `drop`, so every kept line still follows the search's rules
(an undo always takes back a step that was written). `drop=0` is the dfs trace, `drop=1` the solution
path in the search's order (the shortcut's steps). The draw is seeded by (`seed`, tree), so a tree's
trace does not depend on which other trees were linearized before it.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import networkx as nx

from db.stored_tree import StoredTree
from search.bounds import check_number
from search.tasks.base import Task
from traces.dfs import DFSConfig, solved_trace, trace_trajectory
from traces.options import as_config


@dataclass
class DroppedConfig(DFSConfig):
    """Options of the dropped-trace linearizer (the dfs options, plus the draw)."""

    drop: float = 0.5
    """Probability with which each abandoned try (a whole detour) is removed, in [0, 1]."""
    seed: int = 0
    """Seeds the draw, per tree."""

    def __post_init__(self) -> None:
        check_number("linearize.dropped.drop", self.drop, 0, 1)


def linearize_dropped(G: StoredTree | nx.DiGraph, task: Task,
                      cfg: DroppedConfig | dict | None = None) -> list[dict[str, Any]]:
    """The depth-first trace up to the first verified solution, each detour removed with probability
    `cfg.drop`, as one trajectory."""
    cfg = as_config(DroppedConfig, cfg)
    traced = solved_trace(G, task, cfg)
    if traced is None:
        return []
    tree, lines, answer = traced
    rng = random.Random(f"{cfg.seed}:{tree.tree_id}")
    detours = list(dict.fromkeys(ln.detour for ln in lines if ln.detour is not None))   # in trace order
    dropped = {d for d in detours if rng.random() < cfg.drop}
    return [trace_trajectory(tree, task, "dropped", [ln for ln in lines if ln.detour not in dropped], answer)]
