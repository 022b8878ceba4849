"""Lineage of self-evolution rounds in the store (migration 0006): runs.round, parent_run_id, model,
model_sha256; the views round_trees and repeated_mistakes; the round queries of docs/evolve.md."""
from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from db import StoreError, TraceStore, migrate
from db.engine import make_engine
from db.views import REPEATED_RATE_QUERY, ROUND_QUERIES, ROUND_TREES_QUERY
from tests.store_backends import pg_database, pg_url, store_url  # noqa: F401

DOC = Path(__file__).resolve().parents[1] / "docs" / "evolve.md"
README = Path(__file__).resolve().parents[1] / "README.md"

# A store as revision 0004 (the last release before rounds) wrote it, in plain SQL.
REVISION_4_ROWS = [
    "INSERT INTO runs (id, name, stage, config, versions, status, stats, created_at) "
    "VALUES (1, 'demo', 'explore', '{\"seed\": 0}', '{}', 'done', '{\"nodes\": 3}', '2026-11-30 00:00:00')",
    "INSERT INTO runs (id, name, stage, config, versions, status, stats, created_at) "
    "VALUES (2, 'demo', 'eval', '{}', '{}', 'done', '{}', '2026-11-30 00:10:00')",
    "INSERT INTO problems (id, dataset, split, key, payload) VALUES (1, 'countdown', 'train', 'p0', '{\"target\": 4}')",
    "INSERT INTO trees (id, run_id, problem_id, status, stats) VALUES (1, 1, 1, 'done', '{}')",
    "INSERT INTO nodes (id, tree_id, parent_id, seq, depth, text, label, value, visits, count, first_error, expansions) "
    "VALUES (1, 1, NULL, 0, 0, '', 'root', 0, 1, 1, false, 1)",
    "INSERT INTO nodes (id, tree_id, parent_id, seq, depth, text, label, value, visits, count, first_error, expansions) "
    "VALUES (2, 1, 1, 1, 1, '2 + 2 = 4', 'solution', 1, 1, 1, false, 0)",
    "INSERT INTO evals (id, run_id, model, problem_id, prediction, is_correct, n_tokens) "
    "VALUES (1, 2, 'base', 1, '4', true, 3)",
]
TABLES = ("runs", "problems", "trees", "nodes", "evals")


def _dump(url: str) -> dict[str, list]:
    engine = make_engine(url)
    with engine.connect() as conn:
        out = {t: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY id"))] for t in TABLES}
    engine.dispose()
    return out


def test_a_revision_4_store_upgrades_keeping_every_row_and_gains_null_lineage(store_url):
    assert migrate.upgrade(store_url, "0004") == "0004"
    engine = make_engine(store_url)
    with engine.begin() as conn:
        for statement in REVISION_4_ROWS:
            conn.execute(text(statement))
    engine.dispose()
    before = _dump(store_url)

    assert migrate.upgrade(store_url) == migrate.head()
    after = _dump(store_url)
    for table in TABLES:
        width = len(before[table][0])
        assert [row[:width] for row in after[table]] == before[table], table  # every row, every value kept
    # The new columns come after the old ones, NULL on old runs.
    assert [row[len(before["runs"][0]):] for row in after["runs"]] == [(None, None, None, None)] * 2
    with TraceStore(store_url) as store:
        assert store.get_run("demo", "explore")["round"] is None
        assert store.solved(1) == [1]
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM round_trees")).scalar() == 0  # no round runs yet
            assert conn.execute(text("SELECT COUNT(*) FROM repeated_mistakes")).scalar() == 0


def test_downgrade_to_0005_drops_the_lineage_and_keeps_the_runs(tmp_path):
    url = f"sqlite:///{tmp_path / 'traces.db'}"
    with TraceStore(url) as store:
        store.start_run("demo/round-0", "explore", {}, round=0, model="scripted")
    assert migrate.downgrade(url, "0005") == "0005"
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name, stage FROM runs")).all() == [("demo/round-0", "explore")]
        assert "round" not in {c[1] for c in conn.execute(text("PRAGMA table_info(runs)"))}
        assert conn.execute(text("SELECT COUNT(*) FROM run_stats")).scalar() == 1  # 0002's views still there
    engine.dispose()
    assert migrate.upgrade(url) == migrate.head()


def test_start_run_records_lineage_and_keeps_it_unless_given(tmp_path):
    with TraceStore(f"sqlite:///{tmp_path / 'traces.db'}") as store:
        plain = store.start_run("demo", "explore", {})
        assert {k: store.get_run("demo", "explore")[k] for k in ("round", "parent_run_id", "model")} == \
            {"round": None, "parent_run_id": None, "model": None}
        child = store.start_run("demo/round-1", "explore", {}, round=1, parent_run_id=plain,
                                model="outputs/m/shortcut", model_sha256="ab" * 32)
        store.start_run("demo/round-1", "explore", {"resumed": True})  # a resume keeps the lineage
        row = store.get_run("demo/round-1", "explore")
        assert (row["id"], row["round"], row["parent_run_id"], row["model"], row["model_sha256"]) == \
            (child, 1, plain, "outputs/m/shortcut", "ab" * 32)
        store.set_lineage(child, model="other")
        assert store.get_run("demo/round-1", "explore")["model"] == "other"
        with pytest.raises(StoreError, match=r"runs.round must be an integer >= 0, got -1"):
            store.start_run("x", "explore", {}, round=-1)
        with pytest.raises(StoreError, match="set_lineage: no run with id 99"):
            store.set_lineage(99, round=0)


def _node(tree, seq, label, parent=None, depth=0, step="", state=None, first_error=False):
    return {"tree_id": tree, "seq": seq, "depth": depth, "label": label, "parent_id": parent, "text": step,
            "state": state, "first_error": first_error}


def build_two_rounds(store: TraceStore) -> dict:
    """Two rounds of evolve run `evolve-demo` on problem '1,2,7->21' (and 'x' only in round 0).

    Round 0 (model scripted): root -> '1 + 2 = 3' invalid, root -> '7 * 2 = 14' dead end with state
    {nums: [1, 14]}, root -> '7 * 3 = 21' ... solution; its tree of 'x' makes mistake 'x1'.
    Round 1 (model out/round-0/shortcut): '1 + 2 = 3' invalid again (same text), '2 * 7 = 14' a dead
    end in the same state {nums: [1, 14]} as round 0's, '7 - 1 = 6' a new dead end; not solved.
    Round 0's mistakes on problems round 1 grew again: 2, both repeated."""
    [p, q] = store.add_problems([{"dataset": "countdown", "key": "1,2,7->21", "payload": {"nums": [1, 2, 7]}},
                                 {"dataset": "countdown", "key": "x", "payload": {}}])
    r0 = store.start_run("evolve-demo/round-0", "explore", {}, round=0, model="scripted")
    r1 = store.start_run("evolve-demo/round-1", "explore", {}, round=1, parent_run_id=r0,
                         model="out/round-0/shortcut", model_sha256="cd" * 32)
    t0, tx = store.create_trees(r0, [p, q])
    [root] = store.add_nodes([_node(t0, 0, "root", state={"nums": [1, 2, 7]})])
    store.add_nodes([_node(t0, 1, "invalid", root, 1, "1 + 2 = 3"),
                     _node(t0, 2, "dead_end", root, 1, "7 * 2 = 14", {"nums": [1, 14]}),
                     _node(t0, 3, "solution", root, 1, "7 * 3 = 21", {"nums": [21]})])
    [rootx] = store.add_nodes([_node(tx, 0, "root")])
    store.add_nodes([_node(tx, 1, "invalid", rootx, 1, "x1")])
    [t1] = store.create_trees(r1, [p])
    [root1] = store.add_nodes([_node(t1, 0, "root", state={"nums": [1, 2, 7]})])
    store.add_nodes([_node(t1, 1, "valid", root1, 1, "7 * 1 = 7", {"nums": [2, 7]}),
                     _node(t1, 2, "invalid", root1, 1, "1 + 2 = 3"),
                     _node(t1, 3, "dead_end", root1, 1, "2 * 7 = 14", {"nums": [1, 14]}),
                     _node(t1, 4, "dead_end", root1, 1, "7 - 1 = 6", {"nums": [2, 6]})])
    return {"r0": r0, "r1": r1, "t0": t0, "t1": t1, "tx": tx}


def test_round_views_say_solved_first_error_and_repeated_mistakes(store_url):
    with TraceStore(store_url) as store:
        ids = build_two_rounds(store)
        with store.engine.connect() as conn:
            trees = conn.execute(text(
                "SELECT round, tree_id, solved, nodes, first_error_depth, first_error_text, model "
                "FROM round_trees ORDER BY round, tree_id")).all()
            repeated = conn.execute(text(
                "SELECT round, next_round, text, repeated FROM repeated_mistakes ORDER BY node_id")).all()
    assert [tuple(r) for r in trees] == [
        (0, ids["t0"], 1, 4, 1, "1 + 2 = 3", "scripted"),
        (0, ids["tx"], 0, 2, 1, "x1", "scripted"),
        (1, ids["t1"], 0, 5, 1, "1 + 2 = 3", "out/round-0/shortcut"),
    ]
    # 'x1' is not counted: round 1 did not grow problem x again.
    assert [tuple(r) for r in repeated] == [(0, 1, "1 + 2 = 3", 1), (0, 1, "7 * 2 = 14", 1)]


def _sql_blocks(path: Path) -> list[str]:
    return [b.strip() for b in re.findall(r"```sql\n(.*?)```", path.read_text(), flags=re.S)]


def test_round_queries_of_the_docs_run_as_written_in_sqlite3(tmp_path):
    path = tmp_path / "traces.db"
    with TraceStore(f"sqlite:///{path}") as store:
        ids = build_two_rounds(store)
    blocks = _sql_blocks(DOC)
    for name, query in ROUND_QUERIES.items():
        assert query.strip() in blocks, f"docs/evolve.md lacks the {name!r} query of db/views.py"
    assert ROUND_TREES_QUERY.strip() in _sql_blocks(README)
    with sqlite3.connect(path) as conn:  # the sqlite3 shell's view: no SQLAlchemy
        assert conn.execute(ROUND_TREES_QUERY).fetchall() == [
            (0, "evolve-demo/round-0", ids["t0"], 1, 4, 1, "scripted", None),
            (1, "evolve-demo/round-1", ids["t1"], 0, 5, 1, "out/round-0/shortcut", "cd" * 32),
        ]
        assert conn.execute(REPEATED_RATE_QUERY).fetchall() == [(0, 1, 2, 2, 1.0)]
        for block in blocks:
            assert conn.execute(block).fetchall(), block
