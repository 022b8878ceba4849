"""The math task through the generic explorer: a real SQLite store, the scripted policy, rollout values."""
from __future__ import annotations

from collections import Counter

from db import TraceStore
from search.algorithms import SearchSettings, make_algorithm
from search.explorer import Explorer, ExploreSettings
from search.policies.scripted import ScriptedPolicy
from search.tasks import Problem, make_task


def test_scripted_math_trees_are_solved_and_labelled_by_the_verifier(sqlite_url):
    task = make_task({"name": "math", "n_train": 4, "n_test": 2, "select": "shortest"})
    store = TraceStore(sqlite_url)
    problems = task.load_problems()
    ids = store.add_problems([p.row() for p in problems])
    run_id = store.start_run("math", "explore", {})
    store.create_trees(run_id, [i for p, i in zip(problems, ids) if p.split == "train"])
    algo = make_algorithm(SearchSettings(algorithm="mcts", k=3, max_expansions=5))
    summary = Explorer(store, task, ScriptedPolicy(task, error_rate=0.3, seed=1), algo,
                       ExploreSettings(progress=False)).run(run_id)
    assert summary.trees_done == 4 and summary.solved > 0
    rows = [r for t in store.trees(run_id) for r in store.nodes(t["id"])]
    labels = Counter(r["label"] for r in rows)
    assert labels["solution"] > 0 and labels["wrong_answer"] > 0
    for t in store.trees(run_id):
        gold = t["problem"]["answer"]
        for r in store.nodes(t["id"]):
            if r["label"] == "wrong_answer":     # the reason quotes the model's answer, never the gold
                assert r["reason"].startswith("that gives ") and f"gives {gold}," not in r["reason"]
            if r["label"] == "solution":
                assert task.verify(Problem.from_row(t["problem"]), task.extract_answer(r["text"]))
