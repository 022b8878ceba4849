"""Tree leases for several explorer workers, on SQLite and PostgreSQL."""
from __future__ import annotations

import threading
import time

import pytest

from db import StoreError, TraceStore
from tests.store_backends import make_run_with_trees, pg_database, pg_url, store, store_url  # noqa: F401


def test_two_workers_never_claim_the_same_tree(store_url):
    with TraceStore(store_url) as setup:
        run, trees = make_run_with_trees(setup, 30)
    claims: dict[str, list[int]] = {}

    def work(worker: str) -> None:
        with TraceStore(store_url) as mine:
            got = claims.setdefault(worker, [])
            while batch := mine.claim_trees(run, worker, limit=2, lease_seconds=3600):
                got.extend(batch)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [t for got in claims.values() for t in got]
    assert sorted(everything) == sorted(trees)  # each tree claimed exactly once
    with TraceStore(store_url) as check:
        rows = check.trees(run)
        assert all(r["status"] == "running" for r in rows)
        assert {r["id"]: r["claimed_by"] for r in rows} == {t: w for w, got in claims.items() for t in got}


def test_claim_takes_pending_trees_in_id_order_and_skips_finished_ones(store):
    run, trees = make_run_with_trees(store, 4)
    store.set_tree_status(trees[0], "done")
    assert store.claim_trees(run, "a", limit=2, lease_seconds=60) == trees[1:3]
    assert store.claim_trees(run, "b", limit=5, lease_seconds=60) == trees[3:]
    assert store.claim_trees(run, "c", limit=5, lease_seconds=60) == []
    other_run, _ = make_run_with_trees(store, 1, name="other")
    assert len(store.claim_trees(other_run, "c", limit=5, lease_seconds=60)) == 1


def test_expired_lease_is_reclaimed_by_another_worker(store):
    run, trees = make_run_with_trees(store, 2)
    assert store.claim_trees(run, "dead", limit=2, lease_seconds=60) == trees
    assert store.claim_trees(run, "alive", limit=2, lease_seconds=60) == []  # leases still fresh
    time.sleep(0.05)
    assert store.claim_trees(run, "alive", limit=1, lease_seconds=0.01) == trees[:1]
    assert store.trees(run)[0]["claimed_by"] == "alive"
    # the dead worker lost that tree: it can no longer renew or release it
    assert store.renew_lease(trees, "dead") == trees[1:]


def test_renewing_keeps_a_lease_alive(store):
    run, trees = make_run_with_trees(store, 1)
    store.claim_trees(run, "a", limit=1, lease_seconds=60)
    before = store.trees(run)[0]["claimed_at"]
    time.sleep(2.0)
    assert store.renew_lease(trees, "a") == trees
    assert store.trees(run)[0]["claimed_at"] > before
    # Claimed 2 s ago, renewed just now: a 1.5 s lease has not run out (without the renewal it would
    # have). 1.5 s of slack between renewing and claiming, for loaded machines.
    assert store.claim_trees(run, "b", limit=1, lease_seconds=1.5) == []


def test_renew_and_release_by_the_wrong_worker_fail(store):
    run, trees = make_run_with_trees(store, 2)
    store.claim_trees(run, "a", limit=2, lease_seconds=60)
    assert store.renew_lease(trees, "b") == []
    assert store.release(trees, "b", "done") == []
    assert [r["status"] for r in store.trees(run)] == ["running", "running"]
    assert store.release(trees[:1], "a", "done") == trees[:1]
    assert store.renew_lease(trees, "a") == trees[1:]  # a done tree has no lease to renew


def test_releasing_as_pending_gives_the_tree_back(store):
    run, trees = make_run_with_trees(store, 1)
    store.claim_trees(run, "a", limit=1, lease_seconds=60)
    assert store.release(trees, "a", "pending") == trees
    row = store.trees(run)[0]
    assert (row["status"], row["claimed_by"], row["claimed_at"]) == ("pending", None, None)
    assert store.claim_trees(run, "b", limit=1, lease_seconds=60) == trees


def test_lease_arguments_are_checked(store):
    run, _ = make_run_with_trees(store, 1)
    with pytest.raises(StoreError, match="limit must be >= 1"):
        store.claim_trees(run, "a", limit=0, lease_seconds=60)
    with pytest.raises(StoreError, match="lease_seconds must be >= 0"):
        store.claim_trees(run, "a", limit=1, lease_seconds=-1)
    with pytest.raises(StoreError, match="status must be one of"):
        store.release([1], "a", "claimed")
