"""Fixtures for the trace store tests: a real SQLite file and a real PostgreSQL database.

PostgreSQL: one uniquely named database per test session, created and dropped through the
`postgres` maintenance database; each test gets an empty `public` schema in it. Tests skip with
the reason when the server is unreachable.
"""
from __future__ import annotations

import contextlib
import uuid

import psycopg
import pytest

from db import TraceStore
from tests.conftest import POSTGRES_URL


def _conninfo(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextlib.contextmanager
def scratch_pg_database(prefix: str):
    """A new, empty PostgreSQL database created through the `postgres` maintenance database and
    dropped afterwards (even with clients still connected); skips when the server is down."""
    server = _conninfo(POSTGRES_URL).rpartition("/")[0]
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL server of {POSTGRES_URL} unreachable: {' '.join(str(exc).split())}")
    try:
        yield POSTGRES_URL.rpartition("/")[0] + f"/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_database() -> str:
    """URL of a scratch database on the test server, dropped at the end of the session."""
    with scratch_pg_database("journeyforge_test") as url:
        yield url


@pytest.fixture
def pg_url(pg_database) -> str:
    """The scratch database with an empty public schema."""
    with psycopg.connect(_conninfo(pg_database), autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    return pg_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request, tmp_path) -> str:
    """An empty store URL, once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'traces.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(store_url):
    """An open, empty TraceStore on each backend."""
    with TraceStore(store_url) as opened:
        yield opened


def make_run_with_trees(store: TraceStore, n: int, name: str = "demo") -> tuple[int, list[int]]:
    """A run `name`/explore with `n` problems and one pending tree each: (run id, tree ids)."""
    run = store.start_run(name, "explore", config={"seed": 0})
    problems = store.add_problems(
        [{"dataset": "countdown", "key": f"p{i}", "payload": {"nums": [i, 2], "target": 4}} for i in range(n)]
    )
    return run, store.create_trees(run, problems)


def node(tree_id: int, seq: int, label: str, parent_id: int | None = None, depth: int = 0, text: str = "", **extra) -> dict:
    """A node row with the required fields."""
    return {"tree_id": tree_id, "seq": seq, "depth": depth, "label": label, "parent_id": parent_id, "text": text, **extra}


def build_demo_tree(store: TraceStore) -> dict:
    """Run demo/explore on an empty store. Tree t1: root1 -> a (valid) -> c (solution), root1 -> b
    (invalid); tree t2: root2 -> d (dead_end). Node ids are 1..6 in the order root1, a, b, c,
    root2, d (docs/store.md's example queries use node 4 = c). Returns the ids by name."""
    run, (t1, t2) = make_run_with_trees(store, 2)
    [root1] = store.add_nodes([node(t1, 0, "root")])
    [a, b] = store.add_nodes([node(t1, 1, "valid", root1, 1, "a"), node(t1, 2, "invalid", root1, 1, "b", reason="7 is not left")])
    [c] = store.add_nodes([node(t1, 3, "solution", a, 2, "c", reward=1.0)])
    [root2] = store.add_nodes([node(t2, 0, "root")])
    [d] = store.add_nodes([node(t2, 1, "dead_end", root2, 1, "d")])
    # Node a was valued by two Monte-Carlo rollouts, one of which reached the answer.
    store.write_wave([], [{"id": a, "visits": 0, "value": 0.0, "mc_value": 0.5, "mc_hard": 1.0}], rollouts=[
        {"node_id": a, "tree_id": t1, "idx": 0, "text": "c", "answer": "c", "is_correct": True, "n_tokens": 1},
        {"node_id": a, "tree_id": t1, "idx": 1, "text": "e", "answer": "e", "is_correct": False, "n_tokens": 1},
    ])
    return {"run": run, "t1": t1, "t2": t2, "root1": root1, "a": a, "b": b, "c": c, "root2": root2, "d": d}
