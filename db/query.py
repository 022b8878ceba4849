"""One filtered, ordered query for every table, in the style of sqlite-utils' `rows_where`.

Every read of `TraceStore` is "the rows of one table (perhaps joined to another), some columns
equal to given values, perhaps one column in a list of keys, in a fixed order": `rows_where` writes
that query once instead of once per table, including the chunking of long key lists and the
time zone that SQLite drops from datetimes.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import timezone
from functools import cache
from typing import Any

from sqlalchemy import Connection, DateTime, Select, Table, select
from sqlalchemy.sql.elements import ColumnElement

from db.rows import chunks

# A column: its name in the queried table, or the column itself (a column of the joined table).
ColumnRef = str | ColumnElement


def rows_where(
    conn: Connection,
    table: Table,
    where: Mapping[ColumnRef, Any] | None = None,
    *,
    if_given: Mapping[ColumnRef, Any] | None = None,
    any_of: tuple[ColumnRef, Iterable[Any] | None] | None = None,
    order_by: Sequence[ColumnRef] = ("id",),
    join: tuple[Table, ColumnElement] | None = None,
    also: Sequence[ColumnElement] = (),
) -> list[dict]:
    """The rows of `table` as dicts (every column, plus the `also` columns of the `join`ed table).

    where: column -> value, every one applied (a None value matches NULL, as `==` does);
    if_given: the same for the optional filters of a read method, where None means "not filtered",
      so one call serves every combination of the arguments a caller left out;
    any_of: (column, keys): only rows whose column is one of `keys` (None: no such filter); the keys
      are deduplicated and queried `CHUNK` at a time, and rows of several chunks are sorted again;
    order_by: the order of the rows; join: (table, ON clause) for `also`, the joined columns wanted.
    Columns are named by `table`'s column names, or given as columns (those of the joined table).
    Datetime columns come back with a time zone on both backends (SQLite's are naive UTC).
    """
    queries, naive, sort_by = _plan(table, where, if_given, any_of, order_by, join, also)
    found: list[dict] = []
    for query in queries:
        # a comprehension, not a function call per row: node reads are most of what the store reads
        found += [dict(row._mapping) for row in conn.execute(query)]
    if naive:
        _add_utc(found, naive)
    if sort_by:
        found.sort(key=lambda row: tuple(row[name] for name in sort_by))
    return found


def iter_rows_where(
    conn: Connection,
    table: Table,
    where: Mapping[ColumnRef, Any] | None = None,
    *,
    if_given: Mapping[ColumnRef, Any] | None = None,
    any_of: tuple[ColumnRef, Iterable[Any] | None] | None = None,
    order_by: Sequence[ColumnRef] = ("id",),
    join: tuple[Table, ColumnElement] | None = None,
    also: Sequence[ColumnElement] = (),
) -> Iterator[dict]:
    """`rows_where` (same arguments) produced row by row as they are read: a caller that keeps only
    part of each row (a graph's attributes) never holds them all at once. Rows of several `any_of`
    chunks are read whole first, to be sorted."""
    queries, naive, sort_by = _plan(table, where, if_given, any_of, order_by, join, also)
    if sort_by:
        yield from rows_where(conn, table, where, if_given=if_given, any_of=any_of, order_by=order_by,
                              join=join, also=also)
        return
    for query in queries:
        for row in conn.execute(query):
            out = dict(row._mapping)
            if naive:
                _add_utc([out], naive)
            yield out


def _plan(table, where, if_given, any_of, order_by, join, also) -> tuple[list[Select], list[str], list[str]]:
    """(the queries to run, in order; the datetime columns to give a time zone; the column names to
    sort the rows of several queries by, empty when there is one query)."""
    query = select(table, *also)
    if join is not None:
        query = query.join(*join)
    filters = {**(where or {}), **{k: v for k, v in (if_given or {}).items() if v is not None}}
    for column, value in filters.items():
        query = query.where(_column(table, column) == value)
    query = query.order_by(*(_column(table, column) for column in order_by))
    naive = _datetime_columns(table)
    if also:
        naive = naive + [c.name for c in also if isinstance(getattr(c, "type", None), DateTime)]
    if any_of is None or any_of[1] is None:
        return [query], naive, []
    column = _column(table, any_of[0])
    queries = [query.where(column.in_(part)) for part in chunks(list(dict.fromkeys(any_of[1])))]
    # each chunk comes back in order, their concatenation does not
    sort_by = [_column(table, c).name for c in order_by] if len(queries) > 1 else []
    return queries, naive, sort_by


@cache
def _datetime_columns(table: Table) -> list[str]:
    """Names of `table`'s datetime columns, found once per table (the caller must not change the list)."""
    return [c.name for c in table.c if isinstance(c.type, DateTime)]


def _column(table: Table, column: ColumnRef) -> ColumnElement:
    return table.c[column] if isinstance(column, str) else column


def _add_utc(rows: list[dict], naive: Sequence[str]) -> None:
    """SQLite gives back naive datetimes, which are UTC: give those of columns `naive` tzinfo."""
    for row in rows:
        for name in naive:
            value = row[name]
            if value is not None and value.tzinfo is None:
                row[name] = value.replace(tzinfo=timezone.utc)
