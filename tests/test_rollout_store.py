"""Rollouts and revised labels in the trace store, on SQLite and PostgreSQL."""
from __future__ import annotations

import time

import pytest

from db.engine import StoreError
from tests.store_backends import make_run_with_trees, node, pg_database, pg_url, store, store_url  # noqa: F401


def _rollout(node_index: int, tree_id: int, idx: int, correct: bool) -> dict:
    return {"node_index": node_index, "tree_id": tree_id, "idx": idx, "text": f"... {idx}", "answer": str(idx),
            "is_correct": correct, "n_tokens": 3, "token_ids": [1, 2, 3], "finish_reason": "stop"}


def test_a_wave_stores_new_nodes_with_their_rollouts(store):
    run, (t0,) = make_run_with_trees(store, 1)
    [root] = store.add_nodes([node(t0, 0, "root")])
    ids = store.write_wave(
        [node(t0, 1, "valid", root, 1, "a", mc_value=0.5, mc_hard=1.0), node(t0, 2, "dead_end", root, 1, "b",
                                                                              mc_value=0.0, mc_hard=0.0, first_error=True)],
        rollouts=[_rollout(0, t0, 0, True), _rollout(0, t0, 1, False), _rollout(1, t0, 0, False), _rollout(1, t0, 1, False)],
    )
    a, b = ids
    stored = store.rollouts(tree_id=t0)
    assert [(r["node_id"], r["idx"], r["is_correct"]) for r in stored] == [(a, 0, True), (a, 1, False), (b, 0, False), (b, 1, False)]
    assert stored[0]["token_ids"] == [1, 2, 3] and stored[0]["answer"] == "0"
    assert [r["node_id"] for r in store.rollouts(node_ids=[b])] == [b, b]
    nodes = {n["id"]: n for n in store.nodes(t0)}
    assert (nodes[a]["mc_value"], nodes[a]["mc_hard"], nodes[a]["first_error"]) == (0.5, 1.0, False)
    assert (nodes[b]["mc_value"], nodes[b]["first_error"]) == (0.0, True)
    assert store.count("rollouts") == 4


def test_a_wave_revises_label_reason_and_expansions_of_a_stored_node(store):
    run, (t0,) = make_run_with_trees(store, 1)
    [root] = store.add_nodes([node(t0, 0, "root")])
    [a] = store.add_nodes([node(t0, 1, "valid", root, 1, "a")])
    store.write_wave([], [{"id": a, "visits": 2, "value": 0.0, "label": "dead_end", "reason": "0 of 4 completions",
                           "mc_value": 0.0, "expansions": 3}])
    row = store.nodes(t0)[1]
    assert (row["label"], row["reason"], row["visits"], row["mc_value"], row["expansions"]) == \
        ("dead_end", "0 of 4 completions", 2, 0.0, 3)
    # Left-out revisable columns keep their stored values.
    store.write_wave([], [{"id": a, "visits": 3, "value": 0.1}])
    row = store.nodes(t0)[1]
    assert (row["label"], row["reason"], row["visits"], row["expansions"]) == ("dead_end", "0 of 4 completions", 3, 3)


def test_rollouts_of_nodes_dropped_by_fencing_are_dropped_too(store):
    run, (t0, t1) = make_run_with_trees(store, 2)
    assert store.claim_trees(run, "a", limit=2, lease_seconds=60) == [t0, t1]
    r0, r1 = store.write_wave([node(t0, 0, "root"), node(t1, 0, "root")], worker="a")
    time.sleep(0.05)
    assert store.claim_trees(run, "b", limit=1, lease_seconds=0.01) == [t0]
    ids = store.write_wave([node(t0, 1, "valid", r0, 1, "x"), node(t1, 1, "valid", r1, 1, "y")], worker="a",
                           rollouts=[_rollout(0, t0, 0, True), _rollout(1, t1, 0, True)])
    assert ids.lost == [t0]
    assert [(r["node_id"], r["tree_id"]) for r in store.rollouts()] == [(ids[1], t1)]


def test_a_rollout_without_its_node_is_refused_and_nothing_is_written(store):
    run, (t0,) = make_run_with_trees(store, 1)
    with pytest.raises(StoreError, match="node_id"):
        store.write_wave([node(t0, 0, "root")], rollouts=[{"tree_id": t0, "text": "x"}])
    assert store.count("nodes") == 0 and store.count("rollouts") == 0


def test_a_wave_of_many_rollouts_goes_in_one_bulk_write_with_json_token_ids_and_nulls(store):
    # Thousands of rollouts per wave go through the driver's executemany (SQLite) or COPY (PostgreSQL):
    # every column arrives as a plain row would, token ids as JSON lists, None as SQL NULL.
    run, (t0, t1) = make_run_with_trees(store, 2)
    roots = store.add_nodes([node(t0, 0, "root"), node(t1, 0, "root")])
    new = [node(t, 1 + i, "valid", r, 1, f"step {i}") for t, r in zip((t0, t1), roots) for i in range(4)]
    rollouts = [{**_rollout(i, new[i]["tree_id"], j, j % 3 == 0), "token_ids": list(range(j)) or None,
                 "answer": None if j == 5 else f"{j}", "text": f"completion {i}/{j} with 'quotes' and \\ tabs\t"}
                for i in range(len(new)) for j in range(16)]
    ids = store.write_wave(new, rollouts=rollouts)
    stored = store.rollouts()
    assert len(stored) == 8 * 16 == store.count("rollouts")
    by_key = {(r["node_id"], r["idx"]): r for r in stored}
    for i, nid in enumerate(ids):
        for j in range(16):
            r = by_key[(nid, j)]
            assert r["tree_id"] == new[i]["tree_id"] and r["is_correct"] is (j % 3 == 0)
            assert r["token_ids"] == (list(range(j)) or None)
            assert r["answer"] == (None if j == 5 else f"{j}")
            assert r["text"] == f"completion {i}/{j} with 'quotes' and \\ tabs\t"
            assert r["n_tokens"] == 3 and r["finish_reason"] == "stop"
