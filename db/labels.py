"""The rows of `TraceStore` that hold step labels from sources beside the search (migration 0008): an
LLM judge's and the task oracle's labels of stored nodes, written by a `journeyforge label` run."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import delete, insert, select

from db.connection import StoreConnection
from db.models import StepLabel

LABELS = StepLabel.__table__
LABEL_VALUES = ("good", "mistake", "unparsed")


class LabelsMixin(StoreConnection):
    """Judge and oracle labels of nodes, one row per (label run, node, source)."""

    def add_labels(self, run_id: int, rows: Sequence[Mapping[str, Any]]) -> int:
        """Store label run `run_id`'s `rows` (node_id, tree_id, source, label, score, detail) in one
        transaction, replacing the rows that run already had for the same nodes and sources (a tree
        labelled again after a resume); returns how many were written."""
        clean = []
        for r in rows:
            if r["label"] not in LABEL_VALUES:
                raise ValueError(f"labels: label must be one of {LABEL_VALUES}, got {r['label']!r}")
            clean.append({"run_id": run_id, "node_id": int(r["node_id"]), "tree_id": int(r["tree_id"]),
                          "source": str(r["source"])[:16], "label": r["label"],
                          "score": None if r.get("score") is None else float(r["score"]), "detail": r.get("detail")})
        if not clean:
            return 0
        with self._write(f"add_labels(run {run_id})") as conn:
            for source in {r["source"] for r in clean}:
                nodes = [r["node_id"] for r in clean if r["source"] == source]
                conn.execute(delete(LABELS).where(LABELS.c.run_id == run_id, LABELS.c.source == source,
                                                  LABELS.c.node_id.in_(nodes)))
            conn.execute(insert(LABELS), clean)
        return len(clean)

    def step_label_rows(self, run_id: int, source: str | None = None,
                        tree_ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
        """Label run `run_id`'s rows (of one `source`, of some trees), by node id."""
        query = select(LABELS).where(LABELS.c.run_id == run_id)
        if source is not None:
            query = query.where(LABELS.c.source == source)
        if tree_ids is not None:
            query = query.where(LABELS.c.tree_id.in_(list(tree_ids)))
        with self._read() as conn:
            return [dict(row) for row in conn.execute(query.order_by(LABELS.c.node_id)).mappings()]

    def labelled_trees(self, run_id: int, source: str) -> set[int]:
        """The trees label run `run_id` has `source` rows for (what a resumed run skips)."""
        with self._read() as conn:
            query = select(LABELS.c.tree_id).where(LABELS.c.run_id == run_id, LABELS.c.source == source).distinct()
            return {row[0] for row in conn.execute(query)}
