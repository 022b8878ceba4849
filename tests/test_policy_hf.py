"""HFPolicy on a real tiny random Llama (and once on the real default model)."""
from __future__ import annotations

import re

import pytest
import torch

from search.policies.base import GenerationRequest
from search.policies.hf import HFPolicy

HEADER = "Solve each one.\n3 + 4 = 7\n5 * 6 = 30\n12 - 5 = 7\n9 / 3 = 3\n"
SUFFIXES = ["2 + 2 =", "8 * 7 =", "a much longer question that pads the batch: 100 - 1 =", "1"]


@pytest.fixture(scope="module")
def tiny_policy(tiny_model_dir):
    return HFPolicy(str(tiny_model_dir), seed=0)


def greedy(prompt: str, max_tokens: int = 10, **kw) -> GenerationRequest:
    return GenerationRequest(prompt=prompt, max_tokens=max_tokens, stop=(), temperature=0.0, **kw)


def assert_same(a, b):
    assert a.token_ids == b.token_ids
    assert a.text == b.text
    assert a.logprob == pytest.approx(b.logprob, abs=1e-3)


def test_batched_prompts_of_different_lengths_match_generating_each_alone(tiny_model_dir):
    # batch_size 3 splits the 5 prompts over two chunks of uneven padding.
    policy = HFPolicy(str(tiny_model_dir), batch_size=3)
    requests = [greedy(HEADER + s) for s in SUFFIXES] + [greedy("x")]
    batched = policy.generate(requests)
    for request, [completion] in zip(requests, batched):
        [[alone]] = policy.generate([request])
        assert_same(completion, alone)
        assert len(completion.token_ids) == 10


def test_prefix_cache_gives_the_same_greedy_outputs_as_no_cache(tiny_model_dir):
    cached = HFPolicy(str(tiny_model_dir), prefix_cache=True)
    plain = HFPolicy(str(tiny_model_dir), prefix_cache=False)
    requests = [greedy(HEADER + s, n=2) for s in SUFFIXES]
    for with_cache, without in zip(cached.generate(requests), plain.generate(requests)):
        for a, b in zip(with_cache, without):
            assert_same(a, b)
    header_tokens = len(cached.encode(HEADER)) - 1
    assert cached.stats.cached_tokens >= header_tokens * (2 * len(SUFFIXES) - 1)
    assert plain.stats.cached_tokens == 0


def test_prefix_cache_serves_the_shared_header_in_later_calls(tiny_model_dir):
    policy = HFPolicy(str(tiny_model_dir))
    policy.generate([greedy(HEADER + "2 + 2 ="), greedy(HEADER + "3 + 3 =")])
    before = policy.stats.cached_tokens
    later = [greedy(HEADER + "40 - 4 ="), greedy(HEADER + "7 * 7 =")]
    outputs = policy.generate(later)
    # Both rows of the second call reuse at least the header prefix computed by the first call.
    assert policy.stats.cached_tokens - before >= 2 * (len(policy.encode(HEADER)) - 1)
    fresh = HFPolicy(str(tiny_model_dir), prefix_cache=False).generate(later)
    for [a], [b] in zip(outputs, fresh):
        assert_same(a, b)


def test_n_samples_are_returned_per_request_and_differ(tiny_policy):
    requests = [GenerationRequest(prompt=HEADER + s, n=4, max_tokens=6, stop=(), temperature=1.0, seed=1)
                for s in SUFFIXES[:2]]
    outputs = tiny_policy.generate(requests)
    assert [len(c) for c in outputs] == [4, 4]
    assert len({tuple(c.token_ids) for c in outputs[0]}) > 1


def test_same_seed_and_requests_reproduce_outputs_and_another_seed_changes_them(tiny_model_dir):
    requests = [GenerationRequest(prompt=HEADER + s, n=2, max_tokens=5, stop=(), temperature=0.9, top_p=0.95,
                                  seed=7) for s in SUFFIXES[:2]]
    first = HFPolicy(str(tiny_model_dir), seed=3).generate(requests)
    again = HFPolicy(str(tiny_model_dir), seed=3).generate(requests)
    other = HFPolicy(str(tiny_model_dir), seed=4).generate(requests)
    ids = lambda out: [[c.token_ids for c in cs] for cs in out]  # noqa: E731
    assert ids(first) == ids(again)
    assert ids(first) != ids(other)


def test_stop_string_cuts_text_and_keeps_ids_through_the_token_holding_it(tiny_policy):
    prompt = HEADER + SUFFIXES[0]
    [[free]] = tiny_policy.generate([GenerationRequest(prompt=prompt, max_tokens=12, stop=(), temperature=1.0,
                                                        seed=5)])
    decode = tiny_policy.tokenizer.decode
    full = decode(free.token_ids)
    # A stop string that first appears in the text of a middle token (the k-th).
    k = next(k for k in range(3, len(free.token_ids))
             if (new := decode(free.token_ids[:k])[len(decode(free.token_ids[:k - 1])):]).strip()
             and full.find(new) == len(decode(free.token_ids[:k - 1])))
    stop = new
    [[cut]] = tiny_policy.generate([GenerationRequest(prompt=prompt, max_tokens=12, stop=("never", stop),
                                                       temperature=1.0, seed=5)])
    assert cut.finish_reason == "stop"
    assert cut.text == full[:full.find(stop)]
    assert stop not in cut.text
    assert cut.token_ids == free.token_ids[:k]
    assert stop in decode(cut.token_ids) and stop not in decode(cut.token_ids[:-1])


def test_max_tokens_reached_finishes_with_length(tiny_policy):
    [[c]] = tiny_policy.generate([greedy(HEADER + "1 + 1 =", max_tokens=5)])
    assert c.finish_reason == "length"
    assert len(c.token_ids) == 5
    assert c.text == tiny_policy.tokenizer.decode(c.token_ids)


def test_eos_finishes_with_stop_and_is_kept_in_ids_but_not_in_text(tiny_model_dir):
    policy = HFPolicy(str(tiny_model_dir))
    request = GenerationRequest(prompt=HEADER, max_tokens=8, stop=(), temperature=1.0, seed=3)
    [[free]] = policy.generate([request])
    k = next(k for k in range(2, 8) if free.token_ids[k] not in free.token_ids[:k])
    policy.eos_ids = {free.token_ids[k]}  # pretend that sampled token is the model's EOS
    [[c]] = policy.generate([request])
    assert c.finish_reason == "stop"
    assert c.token_ids == free.token_ids[:k + 1]
    assert c.text == policy.tokenizer.decode(free.token_ids[:k])


def test_logprob_equals_the_sum_recomputed_from_a_forward_pass(tiny_policy):
    prompt = HEADER + SUFFIXES[1]
    [[c]] = tiny_policy.generate([GenerationRequest(prompt=prompt, max_tokens=8, stop=(), temperature=1.3,
                                                     top_p=0.9, seed=2)])
    prompt_ids = tiny_policy.encode(prompt)
    ids = torch.tensor([prompt_ids + c.token_ids])
    with torch.no_grad():
        logits = tiny_policy.model(ids).logits[0, len(prompt_ids) - 1:-1]
    expected = torch.log_softmax(logits.float(), -1).gather(1, torch.tensor(c.token_ids)[:, None]).sum().item()
    assert c.logprob == pytest.approx(expected, abs=1e-3)
    assert c.logprob < 0


def test_prompt_token_ids_are_used_instead_of_the_prompt_text(tiny_policy):
    prompt = HEADER + SUFFIXES[1]
    ids = tiny_policy.encode(prompt)
    [[from_text]] = tiny_policy.generate([greedy(prompt)])
    [[from_ids]] = tiny_policy.generate([greedy("ignored text", prompt_token_ids=ids)])
    assert_same(from_text, from_ids)


def test_stats_count_calls_sequences_and_tokens(tiny_model_dir):
    policy = HFPolicy(str(tiny_model_dir))
    policy.generate([greedy("a b", n=2, max_tokens=4), greedy("c", max_tokens=3)])
    s = policy.stats
    assert (s.calls, s.requests, s.sequences, s.generated_tokens) == (1, 2, 3, 11)
    assert s.prompt_tokens == 2 * len(policy.encode("a b")) + len(policy.encode("c"))
    assert s.seconds > 0


def test_bad_requests_and_options_are_rejected_by_name(tiny_model_dir, tiny_policy):
    with pytest.raises(ValueError, match="request 1: temperature"):
        tiny_policy.generate([greedy("a"), GenerationRequest(prompt="b", temperature=-1)])
    with pytest.raises(ValueError, match="request 0: n"):
        tiny_policy.generate([GenerationRequest(prompt="b", n=0)])
    with pytest.raises(ValueError, match="policy.dtype"):
        HFPolicy(str(tiny_model_dir), dtype="float8")


def test_render_chat_uses_the_template_and_opens_the_assistant_turn(tiny_policy):
    text = tiny_policy.render_chat([{"role": "user", "content": "What is 2 + 2?"}])
    assert "What is 2 + 2?" in text
    assert text.rstrip().endswith("assistant")


def test_lora_adapter_is_applied_on_top_of_the_base_model(tiny_model_dir, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    # init_lora_weights=False gives non-zero B matrices, so the adapter changes the outputs.
    lora = get_peft_model(base, LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj", "o_proj"],
                                           init_lora_weights=False))
    lora.save_pretrained(tmp_path / "adapter")
    request = [greedy(HEADER + SUFFIXES[0], max_tokens=6)]
    [[plain]] = HFPolicy(str(tiny_model_dir)).generate(request)
    [[tuned]] = HFPolicy(str(tiny_model_dir), adapter=str(tmp_path / "adapter")).generate(request)
    assert tuned.logprob != pytest.approx(plain.logprob, abs=1e-3)


@pytest.fixture(scope="module")
def default_policy(default_model_dir):
    return HFPolicy(str(default_model_dir))


def test_default_model_continues_a_fewshot_sum_with_digits_and_stops_at_newline(default_policy):
    prompt = "2 + 3 = 5\n4 + 4 = 8\n7 + 1 = 8\n10 + 5 = 15\n6 + 3 ="
    [[c]] = default_policy.generate([GenerationRequest(prompt=prompt, max_tokens=8, stop=("\n",), temperature=0.0)])
    assert re.search(r"\d", c.text)
    assert c.finish_reason == "stop"
    assert "\n" not in c.text
    assert "\n" in default_policy.tokenizer.decode(c.token_ids)


def test_default_model_batched_with_prefix_cache_matches_each_prompt_alone_without(default_model_dir,
                                                                                     default_policy):
    # The tiny random model barely depends on positions; the real one catches padding/position bugs.
    requests = [greedy(HEADER + s, max_tokens=5) for s in SUFFIXES[:3]]
    batched = default_policy.generate(requests)
    plain = HFPolicy(str(default_model_dir), prefix_cache=False)
    for request, [completion] in zip(requests, batched):
        [[alone]] = plain.generate([request])
        assert completion.token_ids == alone.token_ids
        assert completion.logprob == pytest.approx(alone.logprob, abs=1e-2)


def test_a_from_scratch_students_special_tokens_are_never_step_text(tmp_path):
    """An untrained student samples `[PAD]` and `[UNK]` like any other token; they are not text, and
    `[EOS]` ends the completion (the bug: steps stored with `[PAD]` inside)."""
    from training.student import StudentSettings, build_model, build_tokenizer

    texts = ["Numbers: 2, 6, 8\nTarget: 32\n", "8*2=16, Resulting Numbers: [6, 16]\n(6 - 2) * 8"]
    tok = build_tokenizer(texts)
    torch.manual_seed(0)
    model = build_model(tok, StudentSettings(family="llama", layers=1, width=16, heads=2, context_length=128))
    model.save_pretrained(tmp_path / "student")
    tok.save_pretrained(tmp_path / "student")
    policy = HFPolicy(str(tmp_path / "student"), seed=0)
    request = GenerationRequest(prompt=texts[0], n=64, max_tokens=12, stop=(), temperature=1.0, seed=1)
    [completions] = policy.generate([request])
    specials = {tok.pad_token_id, tok.unk_token_id}
    assert any(specials & set(c.token_ids) for c in completions), "no special token sampled: the test shows nothing"
    for c in completions:
        assert not any(word in c.text for word in ("[PAD]", "[UNK]", "[EOS]")), c.text
        if tok.eos_token_id in c.token_ids:   # EOS ends the completion, as its last token
            assert c.token_ids.index(tok.eos_token_id) == len(c.token_ids) - 1 and c.finish_reason == "stop"
