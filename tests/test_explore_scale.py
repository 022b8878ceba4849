"""benchmarks/explore_scale.py at a tiny size: the explorer against policy=simulated with Monte-Carlo
rollouts, one worker and two, prints its table; the simulated engine grows the scripted policy's trees."""
from __future__ import annotations

import subprocess
import sys

from db import TraceStore
from search.algorithms import SearchSettings, make_algorithm
from search.explorer import Explorer, ExploreSettings
from search.policies.scripted import ScriptedPolicy
from search.policies.simulated import SimulatedPolicy
from search.tasks import make_task
from tests.explore_processes import ENV, REPO


def test_scale_benchmark_prints_busy_share_store_and_barrier_columns(tmp_path):
    done = subprocess.run([sys.executable, "benchmarks/explore_scale.py", "--trees", "8", "--waves", "1", "--k", "2",
                           "--rollouts", "2", "--stores", "sqlite", "--workers", "1,2"],
                          cwd=REPO, env=ENV, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    header = lines[1].split()
    assert header[:5] == ["store", "workers", "trees", "waves", "busy"] and "rows/s" in header
    one, two = (line.split() for line in lines[2:4])
    assert one[:4] == ["sqlite", "1", "8", "1"] and two[:2] == ["sqlite", "2"]
    assert 0 < float(one[4]) <= 1
    assert lines[-1].startswith("busy_share=")


def _grow(tmp_path, policy, task, name, overlap=False):
    store = TraceStore(f"sqlite:///{tmp_path / name}.db")
    problems = [p for p in task.load_problems() if p.split == "train"]
    run = store.start_run("x", "explore", {})
    store.create_trees(run, store.add_problems([p.row() for p in problems]))
    algo = make_algorithm(SearchSettings(algorithm="mcts", k=2, max_expansions=2, value="rollout", rollouts=2))
    summary = Explorer(store, task, policy, algo,
                       ExploreSettings(progress=False, worker="w", overlap_writes=overlap)).run(run)
    assert {t["status"] for t in store.trees(run)} == {"done"} and summary.nodes == store.count("nodes") - len(problems)
    trees = [[(n["id"], n["parent_id"], n["seq"], n["text"], n["label"], n["visits"], n["value"], n["count"])
              for n in store.nodes(t["id"])] for t in store.trees(run)]
    rollouts = [(r["idx"], r["text"], r["is_correct"]) for r in store.rollouts()]
    store.close()
    return trees, rollouts


def test_simulated_engine_grows_the_scripted_policys_trees_and_rollouts(tmp_path):
    task = make_task({"name": "math", "n_train": 3, "n_test": 0, "seed": 0})
    scripted = _grow(tmp_path, ScriptedPolicy(task, seed=0), task, "scripted")
    simulated = _grow(tmp_path, SimulatedPolicy(task, seed=0, pace=False), task, "simulated")
    assert simulated == scripted and scripted[1]


def test_writes_overlapped_with_the_next_wave_store_the_same_trees(tmp_path):
    # explore.overlap_writes: each wave's transaction runs while the next wave generates; what is
    # stored is exactly what the sequential explorer stores, ids and parents included.
    task = make_task({"name": "math", "n_train": 4, "n_test": 0, "seed": 0})
    sequential = _grow(tmp_path, ScriptedPolicy(task, seed=0), task, "sequential")
    overlapped = _grow(tmp_path, ScriptedPolicy(task, seed=0), task, "overlapped", overlap=True)
    assert overlapped == sequential
