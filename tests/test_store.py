"""TraceStore on a real SQLite file and a real PostgreSQL database."""
from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from db import StoreError, TraceStore
from db.models import Node
from db.settings import BUSY_TIMEOUT
from tests.store_backends import build_demo_tree, make_run_with_trees, node, pg_database, pg_url, store, store_url  # noqa: F401


def test_start_run_is_get_or_create_by_name_and_stage(store):
    first = store.start_run("demo", "explore", config={"seed": 0}, versions={"torch": "2.13"}, git_sha="abc")
    store.finish_run(first, "failed")
    again = store.start_run("demo", "explore", config={"seed": 1})
    other = store.start_run("demo", "linearize", config={})
    assert again == first and other != first
    run = store.get_run("demo", "explore")
    assert run["config"] == {"seed": 1} and run["status"] == "running" and run["finished_at"] is None
    assert run["versions"] == {"torch": "2.13"} and run["git_sha"] == "abc"  # kept when not given again
    assert [r["stage"] for r in store.runs()] == ["explore", "linearize"]
    assert store.get_run("demo", "train") is None


def test_finish_run_records_status_stats_and_utc_time(store):
    run = store.start_run("demo", "explore", config={})
    store.finish_run(run, "done", stats={"trees": 3})
    row = store.get_run("demo", "explore")
    assert row["status"] == "done" and row["stats"] == {"trees": 3}
    assert row["finished_at"].tzinfo is not None and row["finished_at"].utcoffset().total_seconds() == 0
    assert row["created_at"] <= row["finished_at"]
    with pytest.raises(StoreError, match="no run with id 999"):
        store.finish_run(999)
    with pytest.raises(StoreError, match="status must be one of"):
        store.finish_run(run, "finished")


def test_add_problems_is_idempotent_and_returns_ids_in_input_order(store):
    rows = [{"dataset": "countdown", "key": k, "payload": {"k": k}} for k in ("b", "a", "c")]
    ids = store.add_problems(rows)
    assert len(set(ids)) == 3
    again = store.add_problems([{"dataset": "countdown", "key": "c", "payload": {"changed": True}}, rows[0],
                                {"dataset": "countdown", "key": "d", "payload": {}, "split": "test", "answer": "1+3"}])
    assert again[:2] == [ids[2], ids[0]]
    assert len(store.problems()) == 4
    assert store.problem(ids[2])["payload"] == {"k": "c"}  # an existing row is left as it was
    assert [p["key"] for p in store.problems(split="test")] == ["d"]
    assert store.problems(split="test")[0]["answer"] == "1+3"
    assert [p["key"] for p in store.problems(ids=[ids[1], ids[0]])] == ["b", "a"]  # by id
    assert store.problems(dataset="other") == []
    # the same key in another dataset is another problem
    assert store.add_problems([{"dataset": "gsm8k", "key": "a", "payload": {}}])[0] not in ids


def test_add_problems_names_the_bad_row_and_field(store):
    with pytest.raises(StoreError, match=r"row 1 lacks required field\(s\) \['payload'\]"):
        store.add_problems([{"dataset": "d", "key": "a", "payload": {}}, {"dataset": "d", "key": "b"}])
    with pytest.raises(StoreError, match=r"row 0 has unknown field\(s\) \['nums'\]"):
        store.add_problems([{"dataset": "d", "key": "a", "payload": {}, "nums": [1]}])
    with pytest.raises(StoreError, match="row 0 field 'key' must be a non-empty string"):
        store.add_problems([{"dataset": "d", "key": 7, "payload": {}}])
    with pytest.raises(StoreError, match="no problem with id 12345"):
        store.problem(12345)
    assert store.problems() == []


def test_create_trees_is_idempotent_and_trees_carry_their_problem(store):
    run, trees = make_run_with_trees(store, 3)
    problem_ids = [t["problem_id"] for t in store.trees(run)]
    assert store.create_trees(run, problem_ids[::-1]) == trees[::-1]
    listed = store.trees(run)
    assert [t["id"] for t in listed] == trees and all(t["status"] == "pending" for t in listed)
    assert listed[1]["problem"] == {"id": problem_ids[1], "dataset": "countdown", "split": "train", "key": "p1",
                                    "payload": {"nums": [1, 2], "target": 4}, "answer": None}
    store.set_tree_status(trees[0], "done", stats={"nodes": 5})
    assert [t["id"] for t in store.trees(run, status="done")] == [trees[0]]
    assert store.trees(run, status="done")[0]["stats"] == {"nodes": 5}
    with pytest.raises(StoreError, match="status must be one of"):
        store.set_tree_status(trees[0], "solved")
    with pytest.raises(StoreError, match="create_trees"):
        store.create_trees(run, [424242])  # no such problem


def test_add_nodes_returns_ids_in_input_order_across_batches(store):
    run, trees = make_run_with_trees(store, 3)
    # more rows than one multi-row INSERT holds, interleaving trees and with seqs out of order
    rows = [node(trees[i % 3], 3000 - i, "valid", depth=1, text=f"step {i}") for i in range(2500)]
    ids = store.add_nodes(rows)
    assert len(set(ids)) == 2500
    by_id = {n["id"]: n for t in trees for n in store.nodes(t)}
    assert [by_id[i]["text"] for i in ids] == [r["text"] for r in rows]
    assert store.nodes(trees[0])[0]["seq"] < store.nodes(trees[0])[1]["seq"]  # nodes() is ordered by seq


def test_node_rows_are_checked_field_by_field(store):
    run, [tree] = make_run_with_trees(store, 1)
    with pytest.raises(StoreError, match=r"add_nodes: row 1 lacks required field\(s\) \['label'\]"):
        store.add_nodes([node(tree, 0, "root"), {"tree_id": tree, "seq": 1, "depth": 1}])
    with pytest.raises(StoreError, match=r"row 0 has unknown field\(s\) \['lable'\]"):
        store.add_nodes([{"tree_id": tree, "seq": 0, "depth": 0, "label": "root", "lable": "x"}])
    assert store.nodes(tree) == []


def test_duplicate_tree_seq_is_impossible(store):
    run, [tree] = make_run_with_trees(store, 1)
    store.add_nodes([node(tree, 0, "root")])
    with pytest.raises(StoreError, match="nothing was written"):
        store.add_nodes([node(tree, 1, "valid"), node(tree, 0, "valid")])
    # the constraint is in the database, not only in the API
    with pytest.raises(IntegrityError):
        with store.engine.begin() as conn:
            conn.execute(insert(Node), [{"tree_id": tree, "seq": 0, "depth": 0, "label": "root", "text": "",
                                         "value": 0.0, "visits": 0, "count": 1}])
    assert [n["seq"] for n in store.nodes(tree)] == [0]


def test_json_none_is_stored_as_sql_null(store):
    run, [tree] = make_run_with_trees(store, 1)
    store.add_nodes([node(tree, 0, "root", state={"nums": [1]}), node(tree, 1, "invalid", state=None, token_ids=None)])
    with store.engine.connect() as conn:
        nulls = conn.exec_driver_sql("SELECT seq FROM nodes WHERE state IS NULL AND token_ids IS NULL").scalars().all()
    assert nulls == [1]
    assert store.nodes(tree)[0]["state"] == {"nums": [1]}


def test_write_wave_inserts_nodes_and_updates_values_and_trees(store):
    run, [tree] = make_run_with_trees(store, 1)
    [root] = store.add_nodes([node(tree, 0, "root")])
    ids = store.write_wave(
        [node(tree, 1, "valid", root, 1, "x"), node(tree, 2, "solution", root, 1, "y", reward=1.0)],
        [{"id": root, "visits": 2, "value": 0.5}],
        [{"id": tree, "status": "done", "stats": {"solved": True}}],
    )
    stored = store.nodes(tree)
    assert [n["id"] for n in stored] == [root, *ids]
    assert (stored[0]["visits"], stored[0]["value"]) == (2, 0.5)
    assert [n["parent_id"] for n in stored[1:]] == [root, root]
    [row] = store.trees(run)
    assert row["status"] == "done" and row["stats"] == {"solved": True}
    store.write_wave([], [], [{"id": tree, "status": "failed"}])  # stats left out: kept
    assert store.trees(run)[0]["stats"] == {"solved": True} and store.trees(run)[0]["status"] == "failed"



def test_write_wave_revises_only_the_columns_each_update_gives(store):
    """Updates of one wave with different revisable columns, a None among them and one node updated
    twice: each column ends as the updates applied in order would leave it."""
    run, [tree] = make_run_with_trees(store, 1)
    root, a, b = store.add_nodes([node(tree, 0, "root"), node(tree, 1, "valid", None, 1, "a"),
                                  node(tree, 2, "valid", None, 1, "b")])
    store.write_wave([], [
        {"id": a, "visits": 1, "value": 0.1, "count": 3, "expansions": 2},
        {"id": b, "visits": 2, "value": 0.2, "label": "dead_end", "reason": "stuck", "count": None},
        {"id": root, "visits": 3, "value": 0.3},
        {"id": a, "visits": 4, "value": 0.4, "label": "invalid"},   # a again: its count stays 3
    ])
    got = {n["id"]: (n["visits"], n["value"], n["label"], n["reason"], n["count"], n["expansions"])
           for n in store.nodes(tree)}
    assert got == {root: (3, 0.3, "root", None, 1, 0), a: (4, 0.4, "invalid", None, 3, 2),
                   b: (2, 0.2, "dead_end", "stuck", 1, 0)}

@pytest.mark.parametrize("failure", ["duplicate seq", "missing parent", "unknown node update", "bad tree status"])
def test_write_wave_is_all_or_nothing(store, failure):
    run, [tree] = make_run_with_trees(store, 1)
    [root] = store.add_nodes([node(tree, 0, "root")])
    new = [node(tree, 1, "valid", root, 1, "ok"), node(tree, 2, "valid", root, 1, "ok too")]
    updates = [{"id": root, "visits": 7, "value": 1.0}]
    tree_updates = [{"id": tree, "status": "done", "stats": {"x": 1}}]
    if failure == "duplicate seq":
        new.append(node(tree, 1, "valid", root, 1, "clash"))
    elif failure == "missing parent":
        new.append(node(tree, 3, "valid", 987654, 2, "orphan"))
    elif failure == "unknown node update":
        updates.append({"id": 987654, "visits": 1, "value": 0.0})
    else:
        tree_updates.append({"id": tree, "status": "finished"})
    with pytest.raises(StoreError, match="write_wave"):
        store.write_wave(new, updates, tree_updates)
    [only] = store.nodes(tree)
    assert (only["id"], only["visits"], only["value"]) == (root, 0, 0.0)
    assert store.trees(run)[0]["status"] == "pending" and store.trees(run)[0]["stats"] == {}


def test_tree_is_a_networkx_graph_with_every_column_and_tree_facts(store):
    ids = build_demo_tree(store)
    graph = store.tree(ids["t1"])
    assert set(graph.nodes) == {ids["root1"], ids["a"], ids["b"], ids["c"]}
    assert set(graph.edges) == {(ids["root1"], ids["a"]), (ids["root1"], ids["b"]), (ids["a"], ids["c"])}
    assert graph.nodes[ids["c"]]["label"] == "solution" and graph.nodes[ids["c"]]["reward"] == 1.0
    assert graph.nodes[ids["b"]]["reason"] == "7 is not left"
    assert set(graph.nodes[ids["a"]]) == {c.name for c in Node.__table__.columns}
    assert graph.graph["root"] == ids["root1"] and graph.graph["tree_id"] == ids["t1"]
    assert graph.graph["run_id"] == ids["run"] and graph.graph["status"] == "pending" and graph.graph["stats"] == {}
    assert graph.graph["problem"]["key"] == "p0"
    with pytest.raises(StoreError, match="no tree with id 999"):
        store.tree(999)


def test_path_runs_from_root_to_the_node(store):
    ids = build_demo_tree(store)
    assert [n["id"] for n in store.path(ids["c"])] == [ids["root1"], ids["a"], ids["c"]]
    assert [n["text"] for n in store.path(ids["c"])] == ["", "a", "c"]
    assert [n["id"] for n in store.path(ids["root2"])] == [ids["root2"]]
    assert store.path(ids["c"])[-1]["state"] is None and store.path(ids["c"])[-1]["reward"] == 1.0
    with pytest.raises(StoreError, match="no node with id 999"):
        store.path(999)


def test_deep_path_follows_every_parent_link(store):
    run, [tree] = make_run_with_trees(store, 1)
    parent, chain = None, []
    for depth in range(60):
        [parent] = store.add_nodes([node(tree, depth, "root" if depth == 0 else "valid", parent, depth, f"s{depth}")])
        chain.append(parent)
    assert [n["id"] for n in store.path(chain[-1])] == chain


def test_solved_lists_exactly_the_trees_with_a_solution(store):
    ids = build_demo_tree(store)
    assert store.solved(ids["run"]) == [ids["t1"]]
    other_run, _ = make_run_with_trees(store, 1, name="other")
    assert store.solved(other_run) == []


def test_views_answer_the_common_questions(store):
    ids = build_demo_tree(store)
    store.set_tree_status(ids["t2"], "done")
    with store.engine.connect() as conn:
        q = lambda sql: [tuple(r) for r in conn.exec_driver_sql(sql)]  # noqa: E731
        assert q(f"SELECT depth, path FROM node_paths WHERE node_id = {ids['c']}") == [(2, "a | c")]
        assert q(f"SELECT path FROM node_paths WHERE node_id = {ids['root1']}") == [("",)]
        assert q("SELECT run_id, tree_id, solutions, min_depth FROM solved_trees") == [(ids["run"], ids["t1"], 1, 2)]
        assert q("SELECT tree_id, label, n FROM mistakes_per_tree ORDER BY tree_id") == [
            (ids["t1"], "invalid", 1), (ids["t2"], "dead_end", 1)]
        assert q("SELECT name, stage, trees, done, nodes, solved FROM run_stats") == [("demo", "explore", 2, 1, 6, 1)]


def test_replace_trajectories_replaces_rather_than_appends(store):
    ids = build_demo_tree(store)
    lin = store.start_run("demo", "linearize", config={})
    rows = [{"text": "first", "node_ids": [ids["root1"], ids["c"]], "is_correct": True, "n_steps": 2},
            {"text": "second", "messages": [{"role": "user", "content": "hi"}]}]
    first = store.replace_trajectories(lin, ids["t1"], "journey", rows)
    second = store.replace_trajectories(lin, ids["t1"], "journey", rows)
    store.replace_trajectories(lin, ids["t1"], "shortcut", [{"text": "short", "tree_id": ids["t1"]}])
    assert len(first) == len(second) == 2
    journeys = store.trajectories(run_id=lin, kind="journey")
    assert [t["id"] for t in journeys] == second and [t["idx"] for t in journeys] == [0, 1]
    assert journeys[0]["node_ids"] == [ids["root1"], ids["c"]] and journeys[0]["is_correct"] is True
    assert journeys[1]["messages"] == [{"role": "user", "content": "hi"}] and journeys[1]["n_backtracks"] == 0
    assert len(store.trajectories(run_id=lin)) == 3 and store.trajectories(tree_ids=[ids["t2"]]) == []
    with pytest.raises(StoreError, match="row 0 has tree_id="):
        store.replace_trajectories(lin, ids["t1"], "journey", [{"text": "x", "tree_id": ids["t2"]}])
    assert len(store.trajectories(run_id=lin, kind="journey")) == 2  # the failed call kept the old rows


def test_replace_evals_replaces_one_models_rows(store):
    ids = build_demo_tree(store)
    ev = store.start_run("demo", "eval", config={})
    problems = [p["id"] for p in store.problems()]
    rows = [{"problem_id": p, "prediction": f"<answer>{p}</answer>", "answer": str(p), "is_correct": p == problems[0],
             "n_tokens": 9} for p in problems]
    store.replace_evals(ev, "base", rows)
    ids_again = store.replace_evals(ev, "base", rows)
    store.replace_evals(ev, "tuned", rows[:1])
    evals = store.evals(ev)
    assert len(evals) == 3 and [e["model"] for e in evals] == ["base", "base", "tuned"]
    assert [e["id"] for e in store.evals(ev, model="base")] == ids_again
    assert [e["is_correct"] for e in store.evals(ev, model="base")] == [True, False]
    with pytest.raises(StoreError, match="replace_evals"):
        store.replace_evals(ev, "base", rows + rows[:1])  # the same problem twice
    assert len(store.evals(ev, model="base")) == 2


def test_unreachable_postgres_url_raises_store_error_with_masked_password():
    with pytest.raises(StoreError) as info:
        TraceStore("postgresql+psycopg://postgres:hunter2@127.0.0.1:1/nowhere")
    message = str(info.value)
    assert "hunter2" not in message and "***" in message and "127.0.0.1:1" in message
    assert "check that PostgreSQL is running" in message


def test_bad_sqlite_path_and_unknown_backends_are_named(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="a_file/sub/traces.db.*directory"):
        TraceStore(f"sqlite:///{blocker}/sub/traces.db")
    with pytest.raises(StoreError, match="'mysql'"):
        TraceStore("mysql://u@localhost/db")
    with pytest.raises(StoreError, match="not a database URL"):
        TraceStore("traces.db")
    not_sqlite = tmp_path / "notes.db"
    not_sqlite.write_text("x" * 2000)
    with pytest.raises(StoreError, match="notes.db"):
        TraceStore(f"sqlite:///{not_sqlite}")


def test_sqlite_store_uses_wal_and_foreign_keys(tmp_path):
    with TraceStore(f"sqlite:///{tmp_path / 'sub' / 'traces.db'}") as opened:
        with opened.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == BUSY_TIMEOUT * 1000
    with TraceStore(f"sqlite:///{tmp_path / 'sub' / 'traces.db'}", busy_timeout=2.5) as opened:
        with opened.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 2500


def test_opening_without_create_refuses_a_missing_file_or_an_empty_database(tmp_path):
    missing = tmp_path / "typo" / "traces.db"
    with pytest.raises(StoreError, match=r"no trace store at .*typo/traces\.db .*the file does not exist"):
        TraceStore(f"sqlite:///{missing}", create=False)
    assert not missing.parent.exists()
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with pytest.raises(StoreError, match=r"is empty \(no journeyforge tables\)"):
        TraceStore(f"sqlite:///{empty}", create=False)


def test_reopening_a_store_keeps_its_rows(store_url):
    with TraceStore(store_url) as first:
        ids = build_demo_tree(first)
    with TraceStore(store_url) as again:
        assert again.solved(ids["run"]) == [ids["t1"]]
        assert [n["id"] for n in again.path(ids["c"])] == [ids["root1"], ids["a"], ids["c"]]
        assert again.get_run("demo", "explore")["created_at"].utcoffset().total_seconds() == 0
