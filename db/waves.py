"""The node writes of `TraceStore`: `add_nodes` and `write_wave`, one search wave (new nodes, node
and tree updates, rollouts) in one transaction, fenced by the worker's leases (db/leases.py) and
written with each backend's bulk statements (db/bulk.py)."""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, update

from db.bulk import existing_ids, insert_rollouts, insert_wave_nodes, update_nodes
from db.connection import StoreConnection
from db.engine import StoreError
from db.leases import fence_wave
from db.models import utcnow
from db.rows import check_choice, field, node_rows
from db.tables import TREE_STATUSES, TREES

_UPDATE_REQUIRED = frozenset(("id", "visits", "value"))
_UPDATE_TREE_STATUS = update(TREES).where(TREES.c.id == bindparam("b_id")).values(status=bindparam("b_status"))
_UPDATE_TREE_STATUS_STATS = _UPDATE_TREE_STATUS.values(
    stats=bindparam("b_stats", type_=TREES.c.stats.type)
)


class WaveIds(list):
    """Node ids written by `write_wave`, in input order (None for rows dropped by fencing);
    `lost` holds the ids of the wave's trees that the worker no longer owns."""

    lost: list[int]


class WavesMixin(StoreConnection):
    """`add_nodes` and `write_wave` of `TraceStore`."""

    def add_nodes(self, rows: Sequence[dict]) -> list[int]:
        """Insert nodes (keys: Node columns except id); returns their ids in input order."""
        clean = node_rows("add_nodes", rows)
        with self._write("add_nodes") as conn:
            return insert_wave_nodes(conn, clean)

    def write_wave(
        self,
        new_nodes: Sequence[dict],
        node_updates: Sequence[dict] = (),
        tree_updates: Sequence[dict] = (),
        worker: str | None = None,
        rollouts: Sequence[dict] = (),
    ) -> WaveIds:
        """Write one search wave in ONE transaction: all of it or nothing; returns new node ids in order.

        `new_nodes`: rows as for `add_nodes` (parents must already be stored); `node_updates`:
        {id, visits, value} plus, optionally, the node's `tree_id` and revised `count`, `label`,
        `reason`, `mc_value`, `mc_hard`, `first_error`, `expansions` (left out: unchanged);
        `tree_updates`: {id, status, stats (optional)}; `rollouts`: `rollouts` rows whose node is
        named by `node_id` or by `node_index` (its position in `new_nodes`), so a wave's new nodes
        and their Monte-Carlo completions are stored together or not at all.

        `worker` fences the write: inside the transaction the wave's tree rows are locked (SELECT ...
        FOR UPDATE on PostgreSQL; SQLite's write transaction is exclusive already) and only the rows of
        trees still `running` and claimed by `worker` are written; their leases are renewed, so every
        wave is also a lease renewal. A worker whose lease expired therefore never writes into a tree
        another worker now owns. The returned list then has None for each dropped new node, and its
        `lost` attribute lists the dropped tree ids (always empty without `worker`).
        """
        clean = node_rows("write_wave", new_nodes)
        for i, row in enumerate(node_updates):
            # the field-by-field check (which names what is missing) only for a row that fails this one
            if not isinstance(row, dict) or not row.keys() >= _UPDATE_REQUIRED:
                for key in ("id", "visits", "value"):
                    field("write_wave node_updates", i, row, key)
        for i, row in enumerate(tree_updates):
            status = field("write_wave tree_updates", i, row, "status")
            check_choice(f"write_wave tree_updates[{i}]", "status", status, TREE_STATUSES)
            field("write_wave tree_updates", i, row, "id")
        with self._write("write_wave") as conn:
            lost: list[int] = []
            if worker is not None:
                clean, node_updates, tree_updates, lost = fence_wave(conn, worker, clean, node_updates, tree_updates)
            update_nodes(conn, node_updates)
            _update_trees(conn, tree_updates, worker)
            ids = WaveIds(insert_wave_nodes(conn, clean))
            insert_rollouts(conn, rollouts, ids)
        ids.lost = lost
        return ids


def _update_trees(conn: Connection, tree_updates: Sequence[dict], worker: str | None) -> None:
    """A wave's tree status (and stats) changes; with a `worker`, each also sets its lease: renewed
    while the tree runs, ended when it finishes. Raises StoreError naming trees that do not exist."""
    with_stats, status_only = [], []
    for row in tree_updates:
        params = {"b_id": row["id"], "b_status": row["status"]}
        if worker is not None:
            # the finisher stays recorded in claimed_by; a finished tree holds no lease
            params["b_claimed_at"] = utcnow() if row["status"] == "running" else None
        if row.get("stats") is not None:
            with_stats.append({**params, "b_stats": row["stats"]})
        else:
            status_only.append(params)
    statements = (_UPDATE_TREE_STATUS_STATS, _UPDATE_TREE_STATUS)
    if worker is not None:
        statements = tuple(s.values(claimed_at=bindparam("b_claimed_at")) for s in statements)
    for statement, params in zip(statements, (with_stats, status_only)):
        if params:
            result = conn.execute(statement, params)
            if conn.dialect.supports_sane_multi_rowcount and result.rowcount != len(params):
                wanted = [p["b_id"] for p in params]
                missing = sorted(set(wanted) - existing_ids(conn, TREES, wanted))
                raise StoreError(f"write_wave: tree_updates name trees that do not exist: {missing[:10]}; nothing was written")
