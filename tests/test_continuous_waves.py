"""explore.continuous: waves that do not wait for stragglers. The simulated engine's continuous clock
hands each request back when it ends; the explorer sends a tree's next expansion as soon as its last
one is back and writes whatever came back together. Trees are the same as with whole waves."""
from __future__ import annotations

import time

import pytest

from hydra import compose, initialize_config_dir

from db import TraceStore
from journeyforge.cli import CONF_DIR
from journeyforge.settings import CONTINUOUS_BACKENDS, ConfigError, validate_config
from search.algorithms import SearchSettings, make_algorithm
from search.explorer import Explorer, ExploreSettings
from search.policies import policy_class
from search.policies.base import GenerationRequest
from search.policies.continuous_engine import ContinuousEngine
from search.policies.scripted import ScriptedPolicy
from search.policies.simulated import SimulatedPolicy
from search.tasks import make_task

def compose_config(overrides: list[str]):
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        return compose(config_name="config", overrides=overrides)


FAST = {"tokens_per_s": 2_000_000.0, "sequence_tokens_per_s": 100_000.0, "prefill_tokens_per_s": 10_000_000.0}


def _grow(tmp_path, policy, task, name, **explore):
    store = TraceStore(f"sqlite:///{tmp_path / name}.db")
    problems = [p for p in task.load_problems() if p.split == "train"]
    run = store.start_run("x", "explore", {})
    store.create_trees(run, store.add_problems([p.row() for p in problems]))
    algo = make_algorithm(SearchSettings(algorithm="mcts", k=2, max_expansions=3, value="rollout", rollouts=2))
    summary = Explorer(store, task, policy, algo, ExploreSettings(progress=False, worker="w", **explore)).run(run)
    assert {t["status"] for t in store.trees(run)} == {"done"}
    trees = {}
    for t in store.trees(run):
        nodes = store.nodes(t["id"])
        seq = {n["id"]: n["seq"] for n in nodes}
        trees[t["problem_id"]] = [(n["seq"], seq.get(n["parent_id"]), n["text"], n["label"], n["visits"],
                                   round(n["value"], 9), n["count"]) for n in nodes]
    by_node = {n["id"]: (n["tree_id"], n["seq"]) for t in store.trees(run) for n in store.nodes(t["id"])}
    rollouts = sorted((by_node[r["node_id"]], r["idx"], r["text"], r["is_correct"]) for r in store.rollouts())
    policy.close()
    store.close()
    return trees, rollouts, summary


def test_continuous_waves_grow_the_same_trees_and_rollouts_as_whole_waves(tmp_path):
    task = make_task({"name": "math", "n_train": 6, "n_test": 0, "seed": 0})
    waves = _grow(tmp_path, ScriptedPolicy(task, seed=0), task, "waves")
    continuous = _grow(tmp_path, SimulatedPolicy(task, seed=0, **FAST), task, "continuous", continuous=True)
    assert continuous[0] == waves[0] and continuous[1] == waves[1] and waves[1]
    assert continuous[2].nodes == waves[2].nodes and continuous[2].rollouts == waves[2].rollouts
    # Each tree went on alone: more, smaller waves (transactions) than whole waves needed.
    assert continuous[2].waves > waves[2].waves
    overlapped = _grow(tmp_path, SimulatedPolicy(task, seed=0, **FAST), task, "overlapped", continuous=True,
                       overlap_writes=True, gather_seconds=0.01)
    assert overlapped[:2] == waves[:2]


def test_the_engine_hands_a_short_request_back_before_a_long_one_of_the_same_batch():
    # 200 tokens/s per sequence: a 10-token answer ends after 0.05 s, a 200-token one after 1 s.
    engine = ContinuousEngine(tokens_per_s=10_000, sequence_tokens_per_s=200, prefill_tokens_per_s=1e9, max_batch=8)
    order = []
    long, short = engine.add("long", 0, [200]), engine.add("short", 0, [10, 5])
    for name, future in (("long", long), ("short", short)):
        future.add_done_callback(lambda f, name=name: order.append((name, long.done())))
    t0 = time.perf_counter()
    assert short.result(timeout=5) == "short" and not long.done()
    assert long.result(timeout=5) == "long" and time.perf_counter() - t0 >= 0.9
    assert order == [("short", False), ("long", True)]
    assert 0.9 <= engine.busy_seconds <= 1.5
    engine.close()


def test_a_full_batch_queues_sequences_until_a_slot_is_free():
    engine = ContinuousEngine(tokens_per_s=1e9, sequence_tokens_per_s=100, prefill_tokens_per_s=1e9, max_batch=1)
    first, second = engine.add(1, 0, [20]), engine.add(2, 0, [20])   # 0.2 s each, one at a time
    t0 = time.perf_counter()
    assert first.result(timeout=5) == 1 and not second.done()
    assert second.result(timeout=5) == 2 and time.perf_counter() - t0 >= 0.35
    engine.close()


def test_continuous_needs_a_backend_that_takes_requests_one_by_one():
    for backend in CONTINUOUS_BACKENDS:
        assert policy_class(backend).continuous
    for backend in ("scripted", "symbolic", "hf"):
        assert not policy_class(backend).continuous
    with pytest.raises(ConfigError, match=r"^explore.continuous=true needs a backend that takes requests "
                                          r"continuously \(openai, simulated, vllm\); policy.backend=scripted"):
        validate_config(compose_config(["policy=scripted", "explore.continuous=true"]))
    validate_config(compose_config(["policy=simulated", "explore.continuous=true"]))
    with pytest.raises(ValueError, match="explore.gather_seconds must be >= 0"):
        ExploreSettings(gather_seconds=-1)
    task = make_task({"name": "math", "n_train": 1, "n_test": 0, "seed": 0})
    with pytest.raises(ValueError, match="policy.pace=false cannot be used with explore.continuous"):
        SimulatedPolicy(task, seed=0, pace=False).submit([])


def test_a_length_tail_stretches_decode_times_by_a_seeded_capped_factor():
    task = make_task({"name": "math", "n_train": 1, "n_test": 0, "seed": 0})
    policy = SimulatedPolicy(task, seed=0, length_tail=1.0)
    [problem] = task.load_problems()
    request = GenerationRequest(prompt=task.prompt(problem), n=16, max_tokens=64, seed=7,
                                meta={"state": task.initial_state(problem), "problem": problem})
    [completions] = policy.generate([request])
    own = [len(c.token_ids) for c in completions]
    stretched = policy._decode_lengths(request, completions)
    assert stretched == policy._decode_lengths(request, completions)   # seeded by the request
    assert stretched != own and max(stretched) <= 64 and min(stretched) >= 1
    assert SimulatedPolicy(task, seed=0)._decode_lengths(request, completions) == own
