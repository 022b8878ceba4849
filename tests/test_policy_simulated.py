"""policy=simulated: the scripted policy's texts, paced as a continuous-batching GPU engine."""
from __future__ import annotations

import subprocess
import time

import pytest

from search.policies import make_policy, validate_policy_config
from search.policies.base import GenerationRequest
from search.policies.scripted import ScriptedPolicy
from search.policies.simulated import BLOCK_TOKENS, SimulatedPolicy
from search.tasks import make_task
from tests.explore_processes import ENV, REPO, journeyforge


@pytest.fixture(scope="module")
def task():
    return make_task({"name": "countdown", "n_train": 6, "n_test": 1, "seed": 1})


@pytest.fixture(scope="module")
def states(task):
    return [task.initial_state(p) for p in task.load_problems()]


def _requests(states, n=4, prompt="", rollout=False):
    return [GenerationRequest(prompt=prompt, n=n, seed=i, meta={"state": s, "rollout": rollout})
            for i, s in enumerate(states)]


def test_same_texts_as_the_scripted_policy_with_simulated_token_ids(task, states):
    scripted = ScriptedPolicy(task, seed=3).generate(_requests(states))
    simulated = SimulatedPolicy(task, seed=3, chars_per_token=4).generate(_requests(states))
    assert [[c.text for c in cs] for cs in simulated] == [[c.text for c in cs] for cs in scripted]
    for cs in simulated:
        for c in cs:
            assert len(c.token_ids) == -(-len(c.text) // 4)   # one id per 4 characters
            assert all(0 <= i < 151_936 for i in c.token_ids)


def test_decode_is_paced_by_the_aggregate_rate(task, states):
    policy = SimulatedPolicy(task, tokens_per_s=2_000, sequence_tokens_per_s=1e6, prefill_tokens_per_s=1e9)
    start = time.perf_counter()
    out = policy.generate(_requests(states, n=8, rollout=True))
    wall = time.perf_counter() - start
    generated = sum(len(c.token_ids) for cs in out for c in cs)
    assert wall >= generated / 2_000
    assert policy.stats.seconds == pytest.approx(wall, rel=0.05)
    assert policy.decode_seconds == pytest.approx(generated / 2_000)


def test_the_longest_completion_bounds_a_batch_however_fast_the_engine(task, states):
    policy = SimulatedPolicy(task, tokens_per_s=1e9, sequence_tokens_per_s=500, prefill_tokens_per_s=1e9, pace=False)
    out = policy.generate(_requests(states, n=8, rollout=True))
    longest = max(len(c.token_ids) for cs in out for c in cs)
    assert policy.decode_seconds == pytest.approx(longest / 500)


def test_max_batch_caps_the_aggregate_rate(task, states):
    policy = SimulatedPolicy(task, tokens_per_s=1e9, sequence_tokens_per_s=100, max_batch=2,
                             prefill_tokens_per_s=1e9, pace=False)   # a virtual clock: accounted, not waited
    start = time.perf_counter()
    out = policy.generate(_requests(states, n=8, rollout=True))
    generated = sum(len(c.token_ids) for cs in out for c in cs)
    assert policy.decode_seconds == pytest.approx(generated / 200)   # 2 sequences x 100 tokens/s
    assert policy.simulated_seconds > 1 > time.perf_counter() - start


def test_prefix_cache_serves_a_repeated_prompt_and_a_shared_header(task, states):
    header = "Q" * (4 * BLOCK_TOKENS * 10)   # ten whole blocks
    policy = SimulatedPolicy(task, tokens_per_s=1e9, sequence_tokens_per_s=1e9, prefill_tokens_per_s=1e9)
    policy.generate(_requests(states[:1], prompt=header + " step one"))
    assert policy.stats.cached_tokens == 0
    policy.generate(_requests(states[:1], prompt=header + " another step, longer"))
    assert policy.stats.cached_tokens == 10 * BLOCK_TOKENS
    none = SimulatedPolicy(task, prefix_cache_tokens=0, tokens_per_s=1e9, sequence_tokens_per_s=1e9,
                           prefill_tokens_per_s=1e9)
    for _ in range(2):
        none.generate(_requests(states[:1], prompt=header))
    assert none.stats.cached_tokens == 0


def test_registered_and_built_from_its_config(task):
    policy = make_policy({"backend": "simulated", "max_batch": 8, "seed": 1}, task=task)
    assert isinstance(policy, SimulatedPolicy) and policy.max_batch == 8


@pytest.mark.parametrize(("option", "value", "message"), [
    ("tokens_per_s", 0, "policy.tokens_per_s must be a rate > 0, got 0"),
    ("sequence_tokens_per_s", -5.0, "policy.sequence_tokens_per_s must be a rate > 0, got -5.0"),
    ("prefill_tokens_per_s", 0.0, "policy.prefill_tokens_per_s must be a rate > 0, got 0.0"),
    ("max_batch", 0, "policy.max_batch must be an integer >= 1, got 0"),
    ("prefix_cache_tokens", -1, "policy.prefix_cache_tokens must be an integer >= 0"),
])
def test_impossible_settings_are_refused_at_config_time(option, value, message):
    with pytest.raises(ValueError) as err:
        validate_policy_config({"backend": "simulated", option: value})
    assert str(err.value).startswith(message)


def test_impossible_setting_ends_the_stage_in_one_line(tmp_path):
    done = subprocess.run(journeyforge("explore", "policy=simulated", "policy.max_batch=0", "task.n_train=2",
                                       f"store.url=sqlite:///{tmp_path / 'traces.db'}", f"workdir={tmp_path}"),
                          cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "policy.max_batch must be an integer >= 1, got 0" in lines[0], done.stderr
    assert lines[0].startswith("journeyforge explore:")
    assert not (tmp_path / "traces.db").exists()
