"""Worker leases on trees: claiming, renewing and releasing them, and fencing a wave's write to the
trees its worker still holds, so that several explorer processes share one run safely.

A lease is `trees.claimed_by` plus `trees.claimed_at`; it expires when `claimed_at` is older than the
claimer's `lease_seconds`, and another worker may then claim the tree (its first worker died).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, and_, or_, select, update

from db.connection import StoreConnection
from db.engine import StoreError
from db.models import utcnow
from db.rows import check_choice, chunks
from db.tables import NODES, TREE_STATUSES, TREES


class LeasesMixin(StoreConnection):
    """`claim_trees`, `renew_lease` and `release` of `TraceStore`."""

    def claim_trees(self, run_id: int, worker: str, limit: int, lease_seconds: float) -> list[int]:
        """Claim up to `limit` trees of run `run_id` for `worker`: pending ones, and running ones whose
        lease is older than `lease_seconds` (their worker died). Returns the claimed tree ids.

        PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED, so concurrent workers skip each other's rows;
        SQLite: the BEGIN IMMEDIATE transaction makes claims one at a time.
        """
        if limit < 1:
            raise StoreError(f"claim_trees: limit must be >= 1, got {limit}")
        if lease_seconds < 0:
            raise StoreError(f"claim_trees: lease_seconds must be >= 0, got {lease_seconds}")
        now = utcnow()
        expired = or_(TREES.c.claimed_at.is_(None), TREES.c.claimed_at < now - timedelta(seconds=lease_seconds))
        query = (
            select(TREES.c.id)
            .where(TREES.c.run_id == run_id)
            .where(or_(TREES.c.status == "pending", and_(TREES.c.status == "running", expired)))
            .order_by(TREES.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self._write(f"claim_trees(run {run_id}, {worker!r})") as conn:
            ids = list(conn.scalars(query))
            if ids:
                conn.execute(
                    update(TREES).where(TREES.c.id.in_(ids)).values(status="running", claimed_by=worker, claimed_at=now)
                )
        return ids

    def renew_lease(self, tree_ids: Iterable[int], worker: str) -> list[int]:
        """Extend `worker`'s leases on `tree_ids`; returns the ids still claimed by it (the others were lost)."""
        ids = list(tree_ids)
        if not ids:
            return []
        with self._write(f"renew_lease({worker!r})") as conn:
            renewed = conn.scalars(
                update(TREES)
                .where(TREES.c.id.in_(ids), TREES.c.claimed_by == worker, TREES.c.status == "running")
                .values(claimed_at=utcnow())
                .returning(TREES.c.id)
            )
            return sorted(renewed)

    def release(self, tree_ids: Iterable[int], worker: str, status: str) -> list[int]:
        """End `worker`'s leases on `tree_ids` with `status` (done, failed, or pending to give them
        back); returns the ids it still held. `claimed_by` is kept as a record unless pending."""
        check_choice("release", "status", status, TREE_STATUSES)
        ids = list(tree_ids)
        if not ids:
            return []
        values: dict[str, Any] = {"status": status, "claimed_at": None}
        if status == "pending":
            values["claimed_by"] = None
        with self._write(f"release({worker!r})") as conn:
            released = conn.scalars(
                update(TREES)
                .where(TREES.c.id.in_(ids), TREES.c.claimed_by == worker, TREES.c.status == "running")
                .values(**values)
                .returning(TREES.c.id)
            )
            return sorted(released)


def fence_wave(
    conn: Connection, worker: str, rows: list[dict], node_updates: Sequence[dict], tree_updates: Sequence[dict]
) -> tuple[list[dict | None], list[dict], list[dict], list[int]]:
    """Lock the wave's trees, renew `worker`'s leases on those it still owns and drop the rest:
    (new node rows with None where dropped, node updates, tree updates, lost tree ids)."""
    update_tree = {row["id"]: row.get("tree_id") for row in node_updates}
    unknown = [node_id for node_id, tree_id in update_tree.items() if tree_id is None]
    for chunk in chunks(unknown):
        update_tree.update(conn.execute(select(NODES.c.id, NODES.c.tree_id).where(NODES.c.id.in_(chunk))).all())
    wave = sorted({row["tree_id"] for row in rows} | {t for t in update_tree.values() if t is not None}
                  | {row["id"] for row in tree_updates})
    owned: set[int] = set()
    for chunk in chunks(wave):
        # Locked in id order, so two workers whose waves overlap (one of them about to learn that it
        # lost a tree) wait for each other instead of deadlocking. SQLite compiles no FOR UPDATE:
        # its BEGIN IMMEDIATE already keeps every other writer out.
        mine = list(conn.scalars(
            select(TREES.c.id)
            .where(TREES.c.id.in_(chunk), TREES.c.claimed_by == worker, TREES.c.status == "running")
            .order_by(TREES.c.id)
            .with_for_update()
        ))
        if mine:
            conn.execute(update(TREES).where(TREES.c.id.in_(mine)).values(claimed_at=utcnow()))
        owned.update(mine)
    lost = [t for t in wave if t not in owned]
    if not lost:
        return list(rows), list(node_updates), list(tree_updates), []
    return (
        [row if row["tree_id"] in owned else None for row in rows],
        # a node id that names no stored node keeps its row, so the missing-node error still names it
        [row for row in node_updates if update_tree.get(row["id"]) in owned or update_tree.get(row["id"]) is None],
        [row for row in tree_updates if row["id"] in owned],
        lost,
    )
