"""Bulk statements of a search wave, each backend's fastest path side by side: nodes inserted,
nodes updated, rollouts inserted.

SQLite: the driver's executemany (a C loop) instead of SQLAlchemy's per-row parameter processing.
PostgreSQL with psycopg: COPY ... FROM STDIN for inserts and one UPDATE over arrays for updates.
Any other driver: SQLAlchemy Core executemany. All of them run inside the caller's transaction.
"""
from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby
from json.encoder import c_make_encoder, encode_basestring
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from db.engine import StoreError, compact_json
from db.rows import check_fields, chunks
from db.tables import NODE_REVISABLE, NODES, ROLLOUT_DEFAULTS, ROLLOUT_FIELDS, ROLLOUTS

_NODE_COLUMNS = [col.name for col in NODES.c if col.name != "id"]
_NODE_JSON = {"token_ids", "state"}
_NODE_VALUES = itemgetter(*_NODE_COLUMNS)
_NODE_JSON_AT = [i for i, c in enumerate(_NODE_COLUMNS) if c in _NODE_JSON]
_ROLLOUT_COLUMNS = [col.name for col in ROLLOUTS.c if col.name != "id"]

# -- SQLite: the driver's executemany ---------------------------------------------------------------
_SQLITE_INSERT_NODE = (
    f"INSERT INTO nodes ({', '.join(_NODE_COLUMNS)}) VALUES ({', '.join('?' * len(_NODE_COLUMNS))})"
)
_REVISABLE = frozenset(NODE_REVISABLE)
_SQLITE_INSERT_ROLLOUT = (
    f"INSERT INTO rollouts ({', '.join(_ROLLOUT_COLUMNS)}) VALUES ({', '.join('?' * len(_ROLLOUT_COLUMNS))})"
)

# -- PostgreSQL (psycopg): COPY and array updates ------------------------------------------------------
_COPY_NODES = f"COPY nodes (id, {', '.join(_NODE_COLUMNS)}) FROM STDIN"
_COPY_ROLLOUTS = f"COPY rollouts ({', '.join(_ROLLOUT_COLUMNS)}) FROM STDIN"
# A wave's node updates as ONE statement over arrays (unnest) rather than one UPDATE per node.
_PG_UPDATE_NODES = (
    "UPDATE nodes AS n SET visits = u.visits, value = u.value, "
    + ", ".join(f"{c} = COALESCE(u.{c}, n.{c})" for c in NODE_REVISABLE)
    + " FROM unnest(%s::integer[], %s::integer[], %s::float8[], %s::integer[], %s::varchar[], %s::text[], "
    "%s::float8[], %s::float8[], %s::boolean[], %s::integer[]) AS u(id, visits, value, "
    + ", ".join(NODE_REVISABLE) + ") WHERE n.id = u.id"
)

# -- any other driver: SQLAlchemy Core -----------------------------------------------------------------
_UPDATE_NODE_VALUES = (
    update(NODES)
    .where(NODES.c.id == bindparam("b_id"))
    .values(visits=bindparam("b_visits"), value=bindparam("b_value"),
            **{c: func.coalesce(bindparam(f"b_{c}", type_=NODES.c[c].type), NODES.c[c]) for c in NODE_REVISABLE})
)


def insert_wave_nodes(conn: Connection, rows: list[dict | None]) -> list[int | None]:
    """Insert a wave's new nodes (None: dropped by fencing) and return their ids in input order.

    A row may name its parent by `parent_index` (an earlier row of the same wave, e.g. the steps of
    a grafted rollout): rows are then inserted generation by generation so that each parent has
    its id before its children; the common wave (every parent already stored) is one batch.
    """
    if not any(row is None or "parent_index" in row for row in rows):  # the common wave: one batch, no copies
        return list(insert_nodes(conn, rows))
    ids: list[int | None] = [None] * len(rows)
    generation: list[int] = []
    for row in rows:
        index = row.get("parent_index") if row is not None else None
        generation.append(0 if index is None else generation[index] + 1)
    for gen in range(max(generation, default=-1) + 1):
        batch = []
        for i, row in enumerate(rows):
            if row is None or generation[i] != gen:
                continue
            row = dict(row)
            index = row.pop("parent_index", None)
            if index is not None:
                if ids[index] is None:  # its parent was dropped by fencing: so is it
                    continue
                row["parent_id"] = ids[index]
            batch.append((i, row))
        for (i, _), node_id in zip(batch, insert_nodes(conn, [row for _, row in batch])):
            ids[i] = node_id
    return ids


def insert_nodes(conn: Connection, rows: list[dict]) -> list[int]:
    """Insert complete nodes rows (every column but id) in one bulk statement; their ids in order."""
    if not rows:
        return []
    if conn.dialect.name == "sqlite":
        return _insert_nodes_sqlite(conn, rows)
    if conn.dialect.driver == "psycopg":
        return _insert_nodes_copy(conn, rows)
    # RETURNING gives the (tree_id, seq) natural key back with each id, which maps ids to input
    # order; sort_by_parameter_order would do the same, but SQLAlchemy cannot batch it on SQLite.
    result = conn.execute(insert(NODES).returning(NODES.c.id, NODES.c.tree_id, NODES.c.seq), rows)
    by_key = {(tree_id, seq): id_ for id_, tree_id, seq in result}
    return [by_key[(row["tree_id"], row["seq"])] for row in rows]


def _insert_nodes_sqlite(conn: Connection, rows: list[dict]) -> list[int]:
    """The driver's executemany (a C loop) instead of SQLAlchemy's per-row parameter processing:
    about twice the nodes per second, the explorer's main write cost.

    Ids: inside this BEGIN IMMEDIATE transaction nobody else writes, and SQLite gives an INTEGER
    PRIMARY KEY row one more than the largest id so far, so the ids are consecutive; the last one
    is checked.
    """
    params = _node_params(rows)
    before = conn.exec_driver_sql("SELECT COALESCE(MAX(id), 0) FROM nodes").scalar_one()
    conn.exec_driver_sql(_SQLITE_INSERT_NODE, params)
    last = conn.exec_driver_sql("SELECT MAX(id) FROM nodes").scalar_one()
    if last != before + len(rows):
        raise StoreError(f"add_nodes: ids {before + 1}..{last} of {len(rows)} new nodes are not consecutive")
    return list(range(before + 1, last + 1))


def _insert_nodes_copy(conn: Connection, rows: list[dict]) -> list[int]:
    """PostgreSQL: ids drawn from the table's sequence in one query, then the rows streamed with
    COPY ... FROM STDIN in the same transaction. Measured 7x the nodes per second of an INSERT ...
    RETURNING executemany (benchmarks/README.md, store_scale.py): the server parses one stream
    instead of a statement per batch, and nothing comes back."""
    import psycopg

    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute("SELECT nextval(pg_get_serial_sequence('nodes', 'id')) FROM generate_series(1, %s)",
                       (len(rows),))
        ids = sorted(row[0] for row in cursor.fetchall())
        with cursor.copy(_COPY_NODES) as copy:
            for node_id, values in zip(ids, _node_params(rows)):
                copy.write_row((node_id, *values))
    except psycopg.errors.IntegrityError as exc:  # raw driver errors: name them as SQLAlchemy's would be
        raise IntegrityError(_COPY_NODES, None, exc) from exc
    finally:
        cursor.close()
    return ids


def _node_params(rows: Sequence[dict]) -> list[tuple]:
    """Each row's column values in `_NODE_COLUMNS` order, JSON columns encoded. One C-level
    itemgetter per row instead of a generator over the columns with a set lookup each: with the
    direct JSON encoder below, SQLite waves went from 10,200 to 13,300 nodes per CPU-second
    (benchmarks/README.md, store_scale.py)."""
    encode, values, at = encode_json, _NODE_VALUES, _NODE_JSON_AT
    c_encode, join = _C_ENCODE, "".join
    params = []
    for row in rows:
        row_values = list(values(row))
        for i in at:
            value = row_values[i]
            if value is not None:
                # the C encoder called inline for the usual list or dict (a frame less per value)
                if c_encode is not None and type(value) in (list, dict):
                    try:
                        row_values[i] = join(c_encode(value, 0))
                        continue
                    except (TypeError, ValueError):   # not plain JSON, or a NaN: encode_json deals with it
                        pass
                row_values[i] = encode(value)
        params.append(tuple(row_values))
    return params


def update_nodes(conn: Connection, node_updates: Sequence[dict]) -> None:
    """Set visits and value, and the revisable columns a row gives (None keeps the stored value), of
    stored nodes; raises StoreError naming the ids of rows that match no node."""
    if not node_updates:
        return
    if conn.dialect.name == "sqlite":
        node_params, updated = node_updates, _update_nodes_sqlite(conn, node_updates)
    else:
        node_params = [{"b_id": row["id"], "b_visits": row["visits"], "b_value": row["value"],
                        **{f"b_{c}": row.get(c) for c in NODE_REVISABLE}} for row in node_updates]
        if conn.dialect.driver == "psycopg":
            node_params = _merged_per_node(node_params)
            result = conn.exec_driver_sql(_PG_UPDATE_NODES, tuple(
                [p[f"b_{c}"] for p in node_params] for c in ("id", "visits", "value", *NODE_REVISABLE)))
        else:
            result = conn.execute(_UPDATE_NODE_VALUES, node_params)
        updated = result.rowcount
    if conn.dialect.supports_sane_multi_rowcount and updated != len(node_params):
        wanted = [row["id"] for row in node_updates]
        missing = sorted(set(wanted) - existing_ids(conn, NODES, wanted))
        raise StoreError(f"write_wave: node_updates name nodes that do not exist: {missing[:10]}; nothing was written")


def _merged_per_node(node_params: list[dict]) -> list[dict]:
    """One update per node for the single UPDATE over arrays (which applies one row per node): a
    later row's visits and value win, and so does each revisable column it gives (not None), as
    the rows applied in order would leave them."""
    merged: dict[int, dict] = {}
    for p in node_params:
        earlier = merged.get(p["b_id"])
        merged[p["b_id"]] = p if earlier is None else {
            **earlier, **{k: v for k, v in p.items() if v is not None or k in ("b_visits", "b_value")}}
    return list(merged.values())


def _update_nodes_sqlite(conn: Connection, node_updates: Sequence[dict]) -> int:
    """The driver's executemany (see _insert_nodes_sqlite) with a statement that sets only the
    columns the rows give: one per run of consecutive rows giving the same revisable columns (the
    explorer's rows all give `count` and `expansions`, so a wave is one run). Setting every
    revisable column through COALESCE(?, column) cost 0.4 s of the 4.4 s that 200,000 nodes took
    (store_scale.py): SQLite evaluates and rewrites each column. Runs keep the rows' order, so a
    node updated twice in one wave ends as the sequential updates would leave it. Returns the
    number of rows updated."""
    updated = 0
    for given, run in groupby(node_updates, key=lambda row: row.keys() & _REVISABLE):
        names = sorted(given)
        # None in a revisable column keeps the stored value, as on the other backends
        statement = ("UPDATE nodes SET visits = ?, value = ?"
                     + "".join(f", {c} = COALESCE(?, {c})" for c in names) + " WHERE id = ?")
        params = [(row["visits"], row["value"], *[row[c] for c in names], row["id"]) for row in run]
        updated += conn.exec_driver_sql(statement, params).rowcount
    return updated


def insert_rollouts(conn: Connection, rows: Sequence[dict], new_ids: Sequence[int | None]) -> None:
    """Insert a wave's rollouts; those of new nodes dropped by fencing are dropped too."""
    clean = []
    for i, row in enumerate(rows):
        check_fields("write_wave rollouts", i, row, ROLLOUT_FIELDS, ("tree_id", "text"))
        row = {**ROLLOUT_DEFAULTS, **row}
        if "node_index" in row:
            node_id = new_ids[row.pop("node_index")]
            if node_id is None:
                continue
            row["node_id"] = node_id
        elif row.get("node_id") is None:
            raise StoreError(f"write_wave rollouts[{i}]: needs `node_id` or `node_index`")
        clean.append(row)
    if not clean:
        return
    encode = encode_json
    params = [tuple(encode(row[c]) if c == "token_ids" else row[c] for c in _ROLLOUT_COLUMNS) for row in clean]
    # One bulk statement per wave (a wave of 2,500 trees x 4 children x 16 rollouts is 160,000 rows):
    # the driver's executemany on SQLite and COPY on PostgreSQL, as for nodes; SQLAlchemy's per-row
    # parameter processing was most of the time of a rollout wave.
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(_SQLITE_INSERT_ROLLOUT, params)
    elif conn.dialect.driver == "psycopg":
        _copy_rows(conn, _COPY_ROLLOUTS, params)
    else:
        for chunk in chunks(clean):
            conn.execute(insert(ROLLOUTS), chunk)


def _copy_rows(conn: Connection, statement: str, rows: Sequence[tuple]) -> None:
    """Stream `rows` into a COPY ... FROM STDIN `statement` inside the connection's transaction."""
    import psycopg

    cursor = conn.connection.dbapi_connection.cursor()
    try:
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.errors.IntegrityError as exc:  # raw driver errors: name them as SQLAlchemy's would be
        raise IntegrityError(statement, None, exc) from exc
    finally:
        cursor.close()


def existing_ids(conn: Connection, table, ids: list[int]) -> set[int]:
    """Those of `ids` that are ids of rows of `table` (to name the missing ones in an error)."""
    found: set[int] = set()
    for chunk in chunks(list(dict.fromkeys(ids))):
        found.update(conn.scalars(select(table.c.id).where(table.c.id.in_(chunk))))
    return found


# The C encoder behind json.dumps, called without JSONEncoder.encode's Python frames: measured
# 1.5x faster on the short token-id lists and states of a wave's rows; same text as compact_json.
# allow_nan=False (the last argument): a NaN or Infinity raises, and compact_json writes it as null.
_C_ENCODE = c_make_encoder(None, None, encode_basestring, None, ":", ",", False, False, False) \
    if c_make_encoder is not None else None


def encode_json(value: Any) -> str | None:
    """`value` as compact JSON text, as SQLAlchemy's JSON columns would write it; None stays SQL NULL."""
    # None stays SQL NULL, as JSON(none_as_null=True) does through SQLAlchemy
    if value is None:
        return None
    if _C_ENCODE is not None and isinstance(value, (list, dict)):
        try:
            return "".join(_C_ENCODE(value, 0))
        except (TypeError, ValueError):   # not plain JSON (compact_json names it), or a NaN (null there)
            pass
    return compact_json(value)
