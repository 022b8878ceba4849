"""The explorer against a real SQLite store, the Countdown task and the scripted policy."""
from __future__ import annotations

from collections import Counter

from db import TraceStore
from search.algorithms import SearchSettings, make_algorithm
from search.explorer import Explorer, ExploreSettings
from search.policies.scripted import ScriptedPolicy
from search.tasks import make_task


class RecordingPolicy(ScriptedPolicy):
    """The scripted policy, noting how many requests each batched call carried."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.calls: list[int] = []

    def generate(self, requests):
        self.calls.append(len(requests))
        return super().generate(requests)


def _setup(url, n_train=6, **search):
    task = make_task({"name": "countdown", "n_train": n_train, "n_test": 2, "seed": 3})
    store = TraceStore(url)
    problems = task.load_problems()
    ids = store.add_problems([p.row() for p in problems])
    run_id = store.start_run("t", "explore", {})
    store.create_trees(run_id, [i for p, i in zip(problems, ids) if p.split == "train"])
    algo = make_algorithm(SearchSettings(**{"algorithm": "mcts", "k": 3, "max_expansions": 5, **search}))
    return task, store, run_id, algo


def _check_tree_integrity(store, run_id):
    for t in store.trees(run_id):
        rows = store.nodes(t["id"])
        ids = {r["id"] for r in rows}
        assert [r["seq"] for r in rows] == list(range(len(rows)))       # no gap, no duplicate
        assert sum(r["parent_id"] is None for r in rows) == 1          # one root
        assert all(r["parent_id"] in ids for r in rows if r["parent_id"] is not None)  # no orphan
        for r in rows:
            if r["parent_id"] is not None:
                parent = next(p for p in rows if p["id"] == r["parent_id"])
                assert r["depth"] == parent["depth"] + 1


def test_explorer_grows_every_tree_in_batched_waves(sqlite_url):
    task, store, run_id, algo = _setup(sqlite_url)
    policy = RecordingPolicy(task, error_rate=0.4, seed=1)
    summary = Explorer(store, task, policy, algo, ExploreSettings(progress=False)).run(run_id)
    trees = store.trees(run_id)
    assert summary.trees_done == len(trees) == 6
    assert all(t["status"] == "done" for t in trees)
    # Every tree's first expansion went to the policy in the same call.
    assert policy.calls[0] == 6
    assert len(policy.calls) == summary.waves - 1 or len(policy.calls) == summary.waves
    stored = [r for t in trees for r in store.nodes(t["id"])]
    assert summary.nodes + len(trees) == len(stored)       # + one root per tree
    labels = Counter(r["label"] for r in stored)
    assert labels["root"] == 6 and labels["valid"] > 0 and labels["invalid"] + labels["dead_end"] > 0
    assert len(store.solved(run_id)) == summary.solved > 0
    _check_tree_integrity(store, run_id)
    # Visits were backed up: the root's visits equal the samples drawn below it.
    for t in trees:
        rows = store.nodes(t["id"])
        root = rows[0]
        assert root["visits"] == sum(r["count"] for r in rows[1:])


def test_explorer_resumes_partial_trees_without_redoing_work(sqlite_url):
    task, store, run_id, algo = _setup(sqlite_url, max_expansions=6)
    first = Explorer(store, task, ScriptedPolicy(task, error_rate=0.3, seed=2), algo,
                     ExploreSettings(progress=False, max_waves=2)).run(run_id)
    assert first.trees_done == 0
    before = {t["id"]: [(r["id"], r["seq"], r["text"]) for r in store.nodes(t["id"])] for t in store.trees(run_id)}
    assert all(t["status"] == "pending" for t in store.trees(run_id))   # released for the next run
    algo2 = make_algorithm(SearchSettings(algorithm="mcts", k=3, max_expansions=6))
    second = Explorer(store, task, ScriptedPolicy(task, error_rate=0.3, seed=2), algo2,
                      ExploreSettings(progress=False)).run(run_id)
    assert second.trees_done == 6
    grown = 0
    for t in store.trees(run_id):
        rows = store.nodes(t["id"])
        # The nodes stored by the first run are still there, unchanged; the tree continued from them.
        assert [(r["id"], r["seq"], r["text"]) for r in rows[: len(before[t["id"]])]] == before[t["id"]]
        grown += len(rows) - len(before[t["id"]])
        assert t["stats"]["expansions"] <= 6
    assert grown == second.nodes > 0
    _check_tree_integrity(store, run_id)
    # A third run finds nothing to do.
    third = Explorer(store, task, ScriptedPolicy(task, seed=2), algo2, ExploreSettings(progress=False)).run(run_id)
    assert third.nodes == 0 and third.waves == 0


def test_every_registered_algorithm_runs_through_the_explorer(sqlite_url):
    from search.algorithms import ALGORITHMS

    for algorithm in ALGORITHMS:  # `mixed` draws each tree's strategy from the same registry
        task, store, run_id, algo = _setup(sqlite_url.replace(".db", f"-{algorithm}.db"), n_train=3,
                                           algorithm=algorithm, max_expansions=6, n_chains=4, beam_width=2,
                                           mix=[name for name in ALGORITHMS if name != "mixed"])
        summary = Explorer(store, task, ScriptedPolicy(task, error_rate=0.2, seed=0), algo,
                           ExploreSettings(progress=False)).run(run_id)
        assert summary.trees_done == 3, algorithm
        assert summary.nodes > 3, algorithm
        _check_tree_integrity(store, run_id)
