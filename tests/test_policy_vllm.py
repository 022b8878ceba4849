"""VLLMPolicy on the real default model (vLLM's offline engine, CPU here).

One engine for the module: starting it takes 30-80 s on the shared 2-core box.
"""
from __future__ import annotations

import pytest

from search.policies.base import GenerationRequest
from tests.vllm_helpers import countdown_prompt, needs_vllm

pytestmark = [needs_vllm, pytest.mark.slow]


@pytest.fixture(scope="module")
def policy(default_model_dir):
    from search.policies.vllm_backend import VLLMPolicy

    engine = VLLMPolicy(str(default_model_dir), seed=0, max_model_len=1024)
    yield engine
    engine.close()


def test_n_samples_stop_at_newline_with_ids_that_hold_the_newline(policy):
    prompt = countdown_prompt("2 4 9", 17)
    [completions] = policy.generate([GenerationRequest(prompt=prompt, n=4, max_tokens=24, stop=("\n",), temperature=1.0)])

    assert len(completions) == 4
    for c in completions:
        assert c.finish_reason == "stop"
        assert "\n" not in c.text
        if c.token_ids[-1] in policy.tokenizer.all_special_ids:
            continue  # stopped on end-of-sequence, not on the stop string
        decoded = policy.tokenizer.decode(c.token_ids)
        # The ids run through the token holding the stop string, so they continue token-exactly.
        assert decoded.startswith(c.text + "\n")
        assert "\n" in policy.tokenizer.decode(c.token_ids[-1:])
        assert c.logprob < 0


def test_max_tokens_reached_finishes_with_length(policy):
    request = GenerationRequest(prompt=countdown_prompt("1 2 3", 6), max_tokens=3, stop=(), temperature=1.0)
    [[completion]] = policy.generate([request])

    assert completion.finish_reason == "length"
    assert len(completion.token_ids) == 3
    assert policy.tokenizer.decode(completion.token_ids) == completion.text


def test_second_call_with_same_prefix_hits_prefix_cache(policy):
    first = countdown_prompt("5 6 11", 41)
    second = countdown_prompt("8 3 4", 20)
    policy.generate([GenerationRequest(prompt=first, max_tokens=4, stop=("\n",), temperature=0.0)])
    cached_before = policy.stats.cached_tokens

    policy.generate([GenerationRequest(prompt=second, max_tokens=4, stop=("\n",), temperature=0.0)])

    # The few-shot header is longer than one KV block, so its blocks are reused.
    assert policy.stats.cached_tokens - cached_before >= 128


def test_prompt_ids_plus_step_ids_continue_token_exactly(policy):
    prompt_ids = policy.encode(countdown_prompt("2 8 9", 25))
    greedy = dict(stop=("\n",), temperature=0.0, max_tokens=24)
    [[step1]] = policy.generate([GenerationRequest(prompt="", prompt_token_ids=prompt_ids, **greedy)])
    [[step2]] = policy.generate(
        [GenerationRequest(prompt="", prompt_token_ids=prompt_ids + step1.token_ids, **greedy)]
    )
    assert step1.finish_reason == step2.finish_reason == "stop"

    total = len(step1.token_ids) + len(step2.token_ids)
    [[whole]] = policy.generate(
        [GenerationRequest(prompt="", prompt_token_ids=prompt_ids, stop=(), temperature=0.0, max_tokens=total)]
    )

    # Two chained steps are the same tokens as one uninterrupted greedy run: no re-tokenization seam.
    assert whole.token_ids == step1.token_ids + step2.token_ids


def test_text_prompt_is_encoded_once_like_encode(policy):
    prompt = countdown_prompt("4 4 4", 12)
    before = policy.stats.prompt_tokens
    [[completion]] = policy.generate([GenerationRequest(prompt=prompt, max_tokens=2, stop=(), temperature=0.0)])
    [[same]] = policy.generate(
        [GenerationRequest(prompt="", prompt_token_ids=policy.encode(prompt), max_tokens=2, stop=(), temperature=0.0)]
    )

    assert policy.stats.prompt_tokens - before == 2 * len(policy.encode(prompt))
    assert completion.token_ids == same.token_ids


def test_per_request_seed_is_accepted_on_cpu_and_batch_keeps_order(policy):
    requests = [
        GenerationRequest(prompt=countdown_prompt("3 3 3", 9), n=2, max_tokens=8, stop=("\n",), seed=7),
        GenerationRequest(prompt=countdown_prompt("9 1 1", 9), n=1, max_tokens=1, stop=(), seed=8),
    ]
    results = policy.generate(requests)

    assert [len(r) for r in results] == [2, 1]
    assert len(results[1][0].token_ids) == 1


def test_render_chat_uses_the_model_template(policy):
    text = policy.render_chat([{"role": "user", "content": "Reach 24 with 4 6 1 1"}])
    assert "Reach 24 with 4 6 1 1" in text
    assert text.rstrip().endswith("assistant")


def test_context_length_is_the_engines_max_model_len(policy):
    from search.policies.base import context_overflow

    assert policy.context_length == 1024
    fits = GenerationRequest(prompt="x", prompt_token_ids=[1] * 1000, max_tokens=24)
    too_long = GenerationRequest(prompt="x", prompt_token_ids=[1] * 1000, max_tokens=25)
    assert context_overflow(policy, fits) is None
    assert "1,000 prompt tokens + 25 max_tokens = 1,025 > 1,024" in context_overflow(policy, too_long)


def test_an_engine_dead_error_of_a_batch_becomes_policy_unavailable(policy, monkeypatch):
    # The real death (a killed core process) is the module's last test; the batched path's mapping of
    # vLLM's own EngineDeadError is checked here, with the engine left alive.
    from vllm.v1.engine.exceptions import EngineDeadError

    from search.policies.base import PolicyUnavailable

    def dead(*args, **kwargs):
        raise EngineDeadError()

    monkeypatch.setattr(policy.llm, "generate", dead)
    with pytest.raises(PolicyUnavailable, match="core process died"):
        policy.generate([GenerationRequest(prompt=countdown_prompt("1 2 3", 6), max_tokens=2, stop=())])


# The continuous path (`submit`, explore.continuous): these run last, since the first `submit` hands
# the engine to the stepping thread for the rest of the module.

def test_submit_gives_what_generate_gives_and_generate_goes_through_it_afterwards(policy):
    requests = [GenerationRequest(prompt=countdown_prompt(nums, target), max_tokens=12, stop=("\n",),
                                  temperature=0.0)
                for nums, target in (("2 4 9", 17), ("5 6 11", 41), ("8 3 4", 20))]
    assert policy._stepper is None
    offline = policy.generate(requests)
    submitted = [future.result(timeout=300) for future in policy.submit(requests)]
    afterwards = policy.generate(requests)   # now through the stepping thread

    def view(results):
        return [[(c.text, c.token_ids, c.finish_reason) for c in r] for r in results]

    assert view(submitted) == view(offline) == view(afterwards)
    assert policy._stepper is not None


def test_a_request_sent_while_a_long_one_runs_joins_its_batch_and_comes_back_first(policy):
    import time
    from concurrent.futures import FIRST_COMPLETED, wait

    prompt = countdown_prompt("2 4 9", 17)
    # greedy with no stop string: more steps and more examples, far more than 2 tokens
    [long] = policy.submit([GenerationRequest(prompt=prompt, max_tokens=128, stop=(), temperature=0.0)])
    time.sleep(0.5)
    assert not long.done()
    [short] = policy.submit([GenerationRequest(prompt=countdown_prompt("1 2 3", 6), max_tokens=2, stop=(),
                                               temperature=0.0)])
    done, _ = wait([long, short], return_when=FIRST_COMPLETED, timeout=300)
    assert done == {short} and not long.done()   # it did not wait for the long one's batch to end
    assert len(short.result()[0].token_ids) == 2
    [completion] = long.result(timeout=300)
    assert len(completion.token_ids) > 10


def test_a_request_the_engine_refuses_fails_alone(policy):
    too_long = GenerationRequest(prompt="x", prompt_token_ids=[1] * 1030, max_tokens=4, stop=())
    fine = GenerationRequest(prompt=countdown_prompt("1 2 3", 6), max_tokens=2, stop=(), temperature=0.0)
    bad, good = policy.submit([too_long, fine])
    with pytest.raises(Exception, match="(?i)longer than|too long|maximum|max_model_len"):
        bad.result(timeout=300)
    assert len(good.result(timeout=300)[0].token_ids) == 2


def test_a_dead_engine_ends_in_policy_unavailable_for_waiting_and_later_requests(policy):
    """Last in the module: it kills the engine's core process (as the OOM killer would). A request
    running then, one sent later and `generate` all fail with the one-line PolicyUnavailable the
    CLI prints, not vLLM's traceback."""
    import time

    import psutil

    from search.policies.base import PolicyUnavailable

    [running] = policy.submit([GenerationRequest(prompt=countdown_prompt("2 4 9", 17), max_tokens=256, stop=(),
                                                 temperature=0.0)])
    time.sleep(0.5)
    cores = [p for p in psutil.Process().children(recursive=True) if "EngineCore" in " ".join(p.cmdline() + [p.name()])]
    assert cores
    for core in cores:
        core.kill()
    with pytest.raises(PolicyUnavailable, match=r"the vLLM engine's core process died .* re-run the same command"):
        running.result(timeout=120)
    with pytest.raises(PolicyUnavailable, match="core process died"):
        policy.generate([GenerationRequest(prompt=countdown_prompt("1 2 3", 6), max_tokens=2, stop=())])
