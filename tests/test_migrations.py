"""Alembic migrations of the trace store: revision 1 -> head keeps data; old stores are refused."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from db import StoreError, TraceStore, migrate
from db.engine import make_engine
from db.models import Base
from tests.store_backends import pg_database, pg_url, store_url  # noqa: F401

# Rows written with plain SQL against the revision-1 tables (the models may have moved on since).
REVISION_1_ROWS = [
    "INSERT INTO runs (id, name, stage, config, versions, status, stats, created_at) "
    "VALUES (1, 'demo', 'explore', '{}', '{}', 'running', '{}', '2026-01-01 00:00:00')",
    "INSERT INTO problems (id, dataset, split, key, payload) VALUES (1, 'countdown', 'train', 'p0', '{\"target\": 4}')",
    "INSERT INTO trees (id, run_id, problem_id, status, stats) VALUES (1, 1, 1, 'done', '{}')",
    "INSERT INTO nodes (id, tree_id, parent_id, seq, depth, text, label, value, visits, count) "
    "VALUES (1, 1, NULL, 0, 0, '', 'root', 0, 1, 1)",
    "INSERT INTO nodes (id, tree_id, parent_id, seq, depth, text, label, value, visits, count) "
    "VALUES (2, 1, 1, 1, 1, '2 + 2 = 4', 'solution', 1, 1, 1)",
    "INSERT INTO nodes (id, tree_id, parent_id, seq, depth, text, label, value, visits, count) "
    "VALUES (3, 1, 1, 2, 1, '2 * 3 = 6', 'dead_end', 0, 1, 1)",
]


def test_head_is_the_newest_revision():
    assert migrate.head() == "0008"
    assert migrate.known_revisions() == {"0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008"}


def test_revision_1_store_upgrades_to_head_with_data_intact(store_url):
    assert migrate.upgrade(store_url, "0001") == "0001"
    engine = make_engine(store_url)
    with engine.begin() as conn:
        for statement in REVISION_1_ROWS:
            conn.execute(text(statement))
    engine.dispose()
    with pytest.raises(StoreError, match=r"revision 0001, older than this code's 0008; run `journeyforge db upgrade --store.url="):
        TraceStore(store_url)

    assert migrate.upgrade(store_url) == migrate.head() == migrate.current(store_url)
    with TraceStore(store_url) as store:
        assert [n["text"] for n in store.path(2)] == ["", "2 + 2 = 4"]
        assert store.solved(1) == [1]
        assert store.tree(1).graph["problem"]["payload"] == {"target": 4}
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT tree_id, label, n FROM mistakes_per_tree")).all() == [(1, "dead_end", 1)]
            assert conn.execute(text("SELECT trees, done, nodes, solved FROM run_stats")).all() == [(1, 1, 3, 1)]
            assert conn.execute(text("SELECT path FROM node_paths WHERE node_id = 2")).scalar() == "2 + 2 = 4"
            # 0003: the root had children before expansion counts existed, so it counts as expanded once
            assert conn.execute(text("SELECT id, expansions FROM nodes ORDER BY id")).all() == [(1, 1), (2, 0), (3, 0)]
            assert conn.execute(text("SELECT COUNT(*) FROM rollouts")).scalar() == 0
            # 0004: sampled eval answers and trajectory spans, empty on an old store
            assert conn.execute(text("SELECT COUNT(*) FROM eval_samples")).scalar() == 0


def test_new_store_schema_matches_the_models_exactly(store_url):
    TraceStore(store_url).close()
    engine = make_engine(store_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_store_from_newer_code_is_refused(store_url):
    TraceStore(store_url).close()
    engine = make_engine(store_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    with pytest.raises(StoreError, match="revision 0099, unknown to this code.*upgrade journeyforge"):
        TraceStore(store_url)


def test_tables_without_a_revision_are_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'legacy.db'}"
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    with pytest.raises(StoreError, match="no schema revision"):
        TraceStore(url)


def test_upgrade_is_idempotent_and_downgrade_removes_the_views(store_url):
    if store_url.startswith("sqlite"):  # `current` only reads: a store file that does not exist is not made
        with pytest.raises(StoreError, match="no trace store at .* the file does not exist"):
            migrate.current(store_url)
    else:
        assert migrate.current(store_url) is None
    migrate.upgrade(store_url)
    assert migrate.upgrade(store_url) == migrate.head()
    assert migrate.downgrade(store_url, "0003") == "0003"
    assert migrate.downgrade(store_url, "0002") == "0002"
    assert migrate.downgrade(store_url, "0001") == "0001"
    engine = make_engine(store_url)
    with engine.connect() as conn, pytest.raises(DBAPIError, match="solved_trees"):
        conn.execute(text("SELECT * FROM solved_trees")).all()
    engine.dispose()
