"""docs/store.md: documents every table, column and view, and its example queries run as written."""
from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import psycopg
import pytest

from db import TraceStore
from db.models import Base
from db.views import DOC_QUERIES, MISTAKES_QUERY, NODE_PATH_QUERY, SOLVED_TREES_QUERY, VIEWS
from tests.store_backends import build_demo_tree, pg_database, pg_url  # noqa: F401

DOC = Path(__file__).resolve().parents[1] / "docs" / "store.md"

# What the three queries return on build_demo_tree's store.
EXPECTED = {
    SOLVED_TREES_QUERY: [(1, "p0", 1)],
    NODE_PATH_QUERY: [(1, 0, "root", ""), (2, 1, "valid", "a"), (4, 2, "solution", "c")],
    MISTAKES_QUERY: [(1, "invalid", 1), (2, "dead_end", 1)],
}


def sql_blocks(text: str) -> list[str]:
    """The ```sql fenced blocks of a markdown text."""
    return [block.strip() for block in re.findall(r"```sql\n(.*?)```", text, flags=re.S)]


def statements(block: str) -> list[str]:
    """The statements of one sql block (each ends with ';' at the end of a line)."""
    return [part.strip() + ";" for part in block.strip().rstrip(";").split(";\n")]


def test_doc_quotes_every_example_query_verbatim():
    blocks = sql_blocks(DOC.read_text())
    for name, query in DOC_QUERIES.items():
        assert query.strip() in blocks, f"docs/store.md lacks the {name!r} query of db/views.py"


def test_doc_documents_every_table_column_and_view():
    text = DOC.read_text()
    for table in Base.metadata.sorted_tables:
        section = text.split(f"### {table.name} ")[1].split("###")[0]
        for column in table.columns:
            assert f"| {column.name} |" in section, f"docs/store.md: {table.name}.{column.name} undocumented"
    for view in VIEWS:
        assert f"| {view} |" in text


def check_doc_queries(conn) -> None:
    """Every SQL statement of the doc runs on `conn` (a DB-API connection), finds rows, and the
    three README queries return exactly the expected rows."""
    checked = set()
    for block in sql_blocks(DOC.read_text()):
        for query in statements(block):
            rows = conn.execute(query).fetchall()
            assert rows, query  # every example finds something in the demo store
            if query in EXPECTED:
                assert rows == EXPECTED[query], query
                checked.add(query)
    assert checked == set(EXPECTED)


def test_doc_queries_run_as_written_in_sqlite(tmp_path):
    path = tmp_path / "traces.db"
    with TraceStore(f"sqlite:///{path}") as store:
        build_demo_tree(store)
    with sqlite3.connect(path) as conn:  # what the sqlite3 shell sees: no SQLAlchemy involved
        check_doc_queries(conn)


@pytest.mark.postgres
def test_doc_queries_run_as_written_in_postgres(pg_url):
    with TraceStore(pg_url) as store:
        build_demo_tree(store)
    with psycopg.connect(pg_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        check_doc_queries(conn)


def test_doc_queries_run_as_written_in_duckdb(tmp_path):
    duckdb = pytest.importorskip("duckdb", reason="DuckDB is optional; `pip install duckdb` to check the docs with it")
    path = tmp_path / "traces.db"
    with TraceStore(f"sqlite:///{path}") as store:
        build_demo_tree(store)
    # Copy the tables into DuckDB (its sqlite extension needs a download), then run the doc's SQL.
    duck = duckdb.connect()
    with sqlite3.connect(path) as source:
        for table in Base.metadata.sorted_tables:
            columns = [c.name for c in table.columns]
            types = {int: "BIGINT", float: "DOUBLE", str: "VARCHAR", type(None): "VARCHAR"}
            duck.execute(f"CREATE TABLE {table.name} ({', '.join(f'{c} VARCHAR' for c in columns)})")
            rows = source.execute(f"SELECT {', '.join(columns)} FROM {table.name}").fetchall()
            for column in columns:
                kinds = {types[type(row[columns.index(column)])] for row in rows} - {"VARCHAR"}
                if len(kinds) == 1:
                    duck.execute(f"ALTER TABLE {table.name} ALTER {column} TYPE {kinds.pop()}")
            if rows:
                duck.executemany(f"INSERT INTO {table.name} VALUES ({', '.join('?' * len(columns))})", rows)
    for query in DOC_QUERIES.values():
        assert duck.execute(query).fetchall() == EXPECTED[query], query
