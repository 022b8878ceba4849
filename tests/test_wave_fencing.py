"""Fenced wave writes: a worker whose lease expired never writes into a tree another worker owns.

On both backends; PostgreSQL locks the wave's tree rows (SELECT ... FOR UPDATE), SQLite's write
transaction is exclusive already.
"""
from __future__ import annotations

import time

from db import TraceStore
from search.algorithms import SearchSettings, make_algorithm
from search.explorer import Explorer, ExploreSettings
from search.policies.scripted import ScriptedPolicy
from search.tasks import make_task
from tests.store_backends import make_run_with_trees, node, pg_database, pg_url, store, store_url  # noqa: F401


def _two_trees_of_a_with_roots(store):
    run, trees = make_run_with_trees(store, 2)
    assert store.claim_trees(run, "a", limit=2, lease_seconds=60) == trees
    roots = store.write_wave([node(t, 0, "root") for t in trees], worker="a")
    assert roots.lost == [] and None not in roots
    return run, trees, list(roots)


def test_wave_of_a_worker_whose_tree_was_taken_over_keeps_only_its_own_trees(store):
    run, (t0, t1), (r0, r1) = _two_trees_of_a_with_roots(store)
    time.sleep(0.05)
    assert store.claim_trees(run, "b", limit=1, lease_seconds=0.01) == [t0]  # a's lease on t0 expired

    ids = store.write_wave(
        [node(t0, 1, "valid", r0, 1, "x"), node(t1, 1, "valid", r1, 1, "y"), node(t0, 2, "invalid", r0, 1, "z")],
        [{"id": r0, "visits": 5, "value": 0.5}, {"id": r1, "visits": 7, "value": 0.7}],
        [{"id": t0, "status": "done", "stats": {"by": "a"}}],
        worker="a",
    )
    assert ids.lost == [t0]
    assert ids[0] is None and ids[2] is None and isinstance(ids[1], int)
    assert [n["text"] for n in store.nodes(t0)] == [""]  # only the root, written while a owned t0
    assert [n["text"] for n in store.nodes(t1)] == ["", "y"]
    assert [(n["visits"], n["value"]) for n in (store.nodes(t0)[0], store.nodes(t1)[0])] == [(0, 0.0), (7, 0.7)]
    tree0 = store.trees(run)[0]
    assert (tree0["status"], tree0["claimed_by"], tree0["stats"]) == ("running", "b", {})


def test_wave_of_a_tree_another_worker_finished_is_dropped(store):
    run, (t0, _), (r0, _) = _two_trees_of_a_with_roots(store)
    time.sleep(0.05)
    assert store.claim_trees(run, "b", limit=1, lease_seconds=0.01) == [t0]
    store.write_wave([], tree_updates=[{"id": t0, "status": "done", "stats": {"nodes": 1}}], worker="b")

    ids = store.write_wave([node(t0, 1, "valid", r0, 1)], tree_updates=[{"id": t0, "status": "done",
                                                                         "stats": {"nodes": 2}}], worker="a")
    assert list(ids) == [None] and ids.lost == [t0]
    tree0 = store.trees(run)[0]
    assert (tree0["status"], tree0["claimed_by"], tree0["stats"]) == ("done", "b", {"nodes": 1})
    assert len(store.nodes(t0)) == 1


def test_every_fenced_wave_renews_the_lease(store):
    run, (t0, t1), (r0, _) = _two_trees_of_a_with_roots(store)
    time.sleep(1.1)
    # A node update alone (no new node, no tree_id given) still renews the lease of its tree.
    assert store.write_wave([], [{"id": r0, "visits": 1, "value": 0.0}], worker="a").lost == []
    # t0 was renewed just now, t1 was not: with a 1 s lease only t1 has expired.
    assert store.claim_trees(run, "b", limit=2, lease_seconds=1.0) == [t1]


def test_finishing_wave_records_the_finisher_and_ends_the_lease(store):
    run, (t0, _), _ = _two_trees_of_a_with_roots(store)
    ids = store.write_wave([], tree_updates=[{"id": t0, "status": "done", "stats": {"nodes": 1}}], worker="a")
    assert ids.lost == []
    tree0 = store.trees(run)[0]
    assert (tree0["status"], tree0["claimed_by"], tree0["claimed_at"], tree0["stats"]) == ("done", "a", None, {"nodes": 1})


def test_unfenced_wave_writes_every_row_whoever_holds_the_tree(store):
    run, (t0, _), (r0, _) = _two_trees_of_a_with_roots(store)
    store.claim_trees(run, "b", limit=1, lease_seconds=0)
    ids = store.write_wave([node(t0, 1, "valid", r0, 1)])
    assert ids.lost == [] and isinstance(ids[0], int)


class StealingPolicy(ScriptedPolicy):
    """The scripted policy; during its second call another worker takes over the first tree, as
    happens when a wave outlasts the lease."""

    def __init__(self, task, store, run_id, **kw):
        super().__init__(task, **kw)
        self.store, self.run_id, self.stolen = store, run_id, []

    def generate(self, requests):
        if self.stats.calls == 1:
            time.sleep(0.05)
            self.stolen = self.store.claim_trees(self.run_id, "thief", limit=1, lease_seconds=0.01)
        return super().generate(requests)


def test_explorer_drops_a_tree_whose_lease_it_lost_and_writes_nothing_more_into_it(store_url):
    task = make_task({"name": "countdown", "n_train": 2, "n_test": 2, "seed": 3})
    with TraceStore(store_url) as store:
        problems = [p for p in task.load_problems() if p.split == "train"]
        run_id = store.start_run("t", "explore", {})
        store.create_trees(run_id, store.add_problems([{"dataset": p.dataset, "key": p.key, "payload": p.payload,
                                                        "answer": p.answer} for p in problems]))
        policy = StealingPolicy(task, store, run_id, error_rate=0.3, seed=1)
        algo = make_algorithm(SearchSettings(algorithm="mcts", k=3, max_expansions=4))
        # max_waves: stop once nothing is left to grow, rather than wait for the thief's lease to expire
        settings = ExploreSettings(progress=False, worker="a", max_waves=50)
        summary = Explorer(store, task, policy, algo, settings).run(run_id)

        [stolen] = policy.stolen
        kept = [t for t in store.trees(run_id) if t["id"] != stolen]
        assert summary.trees_done == 1 and [t["status"] for t in kept] == ["done"]
        lost = store.trees(run_id)[[t["id"] for t in store.trees(run_id)].index(stolen)]
        assert (lost["status"], lost["claimed_by"]) == ("running", "thief")
        # Only the root and the first wave's children: the second wave's rows were refused.
        assert {n["depth"] for n in store.nodes(stolen)} == {0, 1}
        assert summary.nodes == sum(len(store.nodes(t["id"])) - 1 for t in store.trees(run_id))
