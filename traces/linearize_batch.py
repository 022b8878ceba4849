"""One linearize loop over many stored trees: every arm (a kind with its options) of every tree, then
matching, so that the datasets of a comparison cover the same problems.

The linearize stage runs it with one arm per `linearize.kinds` entry; the experiment with one per tuned
arm (several arms may share a kind with different options).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
from tqdm.auto import tqdm

from db.stored_tree import StoredTree
from search.tasks.base import Task
from traces.journey import Tokenizer
from traces.linearize import linearize_tree


@dataclass
class Linearized:
    """What `linearize_trees` made: rows per tree and arm, and why trees gave an arm nothing."""

    rows: dict[int, dict[str, list[dict[str, Any]]]]
    """tree id -> arm -> trajectory rows (empty when the tree gave that arm none or was dropped)."""
    skipped: dict[str, Counter] = field(default_factory=dict)
    """arm -> why -> trees that gave it no trajectory (matching's drops included)."""
    dropped: int = 0
    """Trees dropped for matching: some arms had trajectories of them, others none."""

    def shared(self) -> set[int]:
        """Trees that gave every arm a trajectory."""
        return {tid for tid, per_arm in self.rows.items() if all(per_arm.values())}


def linearize_trees(
    trees: Mapping[int, StoredTree | nx.DiGraph],
    task: Task,
    arms: Mapping[str, tuple[str, Any]],
    *,
    tokenizer: Tokenizer | None = None,
    correct_only: bool = False,
    matched: bool = True,
    progress: bool = False,
) -> Linearized:
    """Trajectories of every arm (`name -> (kind, options)`) for every tree, in tree order.

    `correct_only` keeps only rows whose answer verifies (before matching, so a tree whose arm gave
    only wrong rows counts as giving it none). With `matched`, a tree that gave some arms rows and
    others none gives none to any (counted in `dropped` and in each arm's `skipped`). `tokenizer`
    counts tokens for a journey's `max_tokens` budget; `progress` shows a bar.
    """
    out = Linearized(rows={}, skipped={name: Counter() for name in arms})
    for tid, graph in tqdm(trees.items(), desc="linearize", unit="tree", dynamic_ncols=True, disable=not progress):
        # The linearizer contract is `(G, task, cfg)` with the tree's graph (traces/linearize.py).
        graph = StoredTree.of(graph).graph
        out.rows[tid] = {}
        for name, (kind, options) in arms.items():
            rows, reason = linearize_tree(graph, task, kind, options, tokenizer=tokenizer)
            if correct_only:
                rows = [r for r in rows if r.get("is_correct")]
            out.rows[tid][name] = rows
            if reason:
                out.skipped[name][reason] += 1
    if matched:
        for per_arm in out.rows.values():
            missing = [name for name in arms if not per_arm[name]]
            if missing and len(missing) < len(arms):
                out.dropped += 1
                for name in arms:
                    if per_arm[name]:
                        out.skipped[name][f"dropped for matching (no {'/'.join(missing)})"] += 1
                        per_arm[name] = []
    return out


def count_tokens_in(rows: list[dict[str, Any]], count: Callable[[str], int]) -> list[dict[str, Any]]:
    """`rows` ready to store: each with `n_tokens` of its text, and without `lines` (derivable from
    `text`; not a column). Changes the rows in place and returns them."""
    for r in rows:
        r["n_tokens"] = count(r["text"])
        r.pop("lines", None)
    return rows


__all__ = ["Linearized", "count_tokens_in", "linearize_trees"]
