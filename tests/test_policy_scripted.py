"""ScriptedPolicy with the real Countdown task, and the `make_policy` registry."""
from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from search.policies import make_policy
from search.policies.base import GenerationRequest
from search.policies.scripted import ScriptedPolicy, fake_token_ids
from search.tasks import make_task


@pytest.fixture(scope="module")
def task():
    return make_task({"name": "countdown", "n_train": 4, "n_test": 1, "seed": 1})


@pytest.fixture(scope="module")
def states(task):
    return [task.initial_state(p) for p in task.load_problems()]


def requests(states, n=3, seed=None):
    return [GenerationRequest(prompt="", n=n, seed=seed, meta={"state": s}) for s in states]


def test_scripted_policy_is_deterministic_per_seed_state_and_request_seed(task, states):
    first = ScriptedPolicy(task, error_rate=0.3, seed=0).generate(requests(states))
    again = ScriptedPolicy(task, error_rate=0.3, seed=0).generate(requests(states))
    other = ScriptedPolicy(task, error_rate=0.3, seed=1).generate(requests(states))
    reseeded = ScriptedPolicy(task, error_rate=0.3, seed=0).generate(requests(states, seed=9))
    texts = lambda out: [[c.text for c in cs] for cs in out]  # noqa: E731
    assert texts(first) == texts(again)
    assert texts(first) != texts(other)
    assert texts(first) != texts(reseeded)
    # A request's samples do not depend on which other requests share the call.
    assert texts(ScriptedPolicy(task, seed=0).generate(requests(states[1:2])))[0] == texts(first)[1]


def test_scripted_completions_are_task_steps_with_fake_ids_and_negative_logprob(task, states):
    policy = ScriptedPolicy(task, error_rate=0.0, seed=0)
    out = policy.generate(requests(states, n=4))
    assert [len(cs) for cs in out] == [4] * len(states)
    for state, completions in zip(states, out):
        for c in completions:
            assert task.apply_step(state, c.text).label in ("valid", "solution")  # error_rate 0: good steps
            assert c.token_ids == fake_token_ids(c.text) == [ord(ch) for ch in c.text]
            assert c.logprob == pytest.approx(-0.1 * len(c.text)) and c.logprob < 0
            assert c.finish_reason == "stop"
    assert policy.stats.sequences == 4 * len(states)
    assert policy.stats.generated_tokens == sum(len(c.token_ids) for cs in out for c in cs)


def test_scripted_policy_with_error_rate_one_makes_mistakes(task, states):
    out = ScriptedPolicy(task, error_rate=1.0, seed=0).generate(requests(states, n=8))
    labels = [task.apply_step(s, c.text).label for s, cs in zip(states, out) for c in cs]
    assert any(label in ("invalid", "dead_end") for label in labels)


def test_scripted_policy_needs_the_state_in_meta(task):
    with pytest.raises(ValueError, match=r"request 0: .*meta\['state'\]"):
        ScriptedPolicy(task).generate([GenerationRequest(prompt="x")])


def test_make_policy_builds_scripted_from_a_dict_or_omegaconf(task, states):
    from_dict = make_policy({"backend": "scripted", "error_rate": 0.1, "seed": 4}, task=task)
    from_conf = make_policy(OmegaConf.create({"backend": "scripted", "error_rate": 0.1, "seed": 4}), task=task)
    assert isinstance(from_dict, ScriptedPolicy) and from_dict.error_rate == 0.1 and from_dict.seed == 4
    assert [c.text for c in from_dict.generate(requests(states[:1]))[0]] == \
        [c.text for c in from_conf.generate(requests(states[:1]))[0]]


def test_make_policy_names_unknown_options_backends_and_missing_task(task):
    with pytest.raises(ValueError, match=r"policy\.temprature: unknown option for backend 'scripted'"):
        make_policy({"backend": "scripted", "temprature": 0.5}, task=task)
    with pytest.raises(ValueError, match=r"unknown backend 'gpt'"):
        make_policy({"backend": "gpt"})
    with pytest.raises(ValueError, match="needs a `backend`"):
        make_policy({"model": "x"})
    with pytest.raises(ValueError, match="needs the task"):
        make_policy({"backend": "scripted"})


def test_make_policy_builds_hf_with_its_options(tiny_model_dir):
    from search.policies.hf import HFPolicy

    policy = make_policy({"backend": "hf", "model": str(tiny_model_dir), "batch_size": 5, "prefix_cache": False})
    assert isinstance(policy, HFPolicy) and policy.batch_size == 5 and policy.prefix_cache is False
