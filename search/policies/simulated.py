"""The `simulated` backend: the scripted policy's texts, paced like a GPU engine with continuous batching.

For benchmarks and tests only, never a default. It answers every request with the task's own
plausible steps and completions (`ScriptedPolicy`: `task.sample_step` / `task.sample_rollout`, seeded
per request) and then waits as long as a vLLM engine on one H100 would have taken for that batch,
so the explorer, the store and the wave barrier can be measured at rStar-Math scale (thousands of
trees per wave, 16 rollouts per node) on a machine without a GPU.

Default rates, from published vLLM figures for 7-8B models on one H100 80GB (a 1.5B model is faster;
these are the conservative end of the 1.5B-7B range):

- `tokens_per_s` 12,500: aggregate decode throughput, Llama 3.1 8B BF16 on 1x H100 with vLLM
  (FlashInfer, gpu_memory_utilization 0.8), the table of https://www.morphllm.com/vllm-benchmarks.
  vLLM's own `vllm bench serve` run on Llama-3.1-8B-Instruct with ShareGPT (vllm-project/vllm
  PR #18566) shows 6,583 output and 14,029 total tokens/s for ShareGPT's long prompts.
- `sequence_tokens_per_s` 40: one sequence's decode rate in a full batch, 1 / the median
  inter-token latency of that same PR #18566 run (25.4 ms); it sets how long the longest completion
  of a batch (the straggler) takes however many sequences run beside it.
- `prefill_tokens_per_s` 40,000: prompt tokens per second of prefill. Prefill is compute-bound:
  about 2 x 8e9 FLOPs per token against the H100's ~990 TFLOP/s dense BF16 at ~60% utilisation.
- `max_batch` 1024: vLLM V1's default `max_num_seqs` on a GPU with >= 70 GiB.
- `prefix_cache_tokens` 1,000,000: automatic prefix caching keeps the KV blocks of earlier prompts;
  about 58 GB of KV cache left beside a 7B model's 15 GB of weights at 57 KB per token (Qwen2.5-7B:
  28 layers x 4 KV heads x 128 dims x K and V x BF16).

Every rate is refused outside [1, 1e9] tokens/s at config time (`SimulatedSettings.ranges` says why
each range): below one token a second no engine runs, and a call's simulated wait then stays at most
its own token count in seconds, never a time `time.sleep` cannot take (1e-9 tokens/s overflowed it).

The timing model of one `generate` call (one engine batch, as the explorer sends a wave): every
sequence's uncached prompt tokens are prefilled first (`n` samples of one request share one
prefill, as vLLM's parallel sampling does), then all sequences decode with at most `max_batch`
running at once: decode time = max(all generated tokens / min(tokens_per_s, max_batch *
sequence_tokens_per_s), the longest completion / sequence_tokens_per_s). The second term is the
wave barrier on a real engine: the last, longest completion holds the batch's result back.

Tokens are simulated: `chars_per_token` characters make one token (about 4 for English and math
text in Qwen's and Llama's tokenizers); a token's id is a hash of its characters, so stored token
ids have a realistic count. The prefix cache works on blocks of 16 such tokens keyed by the hash of
everything before them, as vLLM's block hashes do; least recently used blocks are evicted.

`stats.seconds` is the simulated engine time (the time the engine had work): the busy share of a
run is that over its wall time. The time spent here making the texts is part of it (the call never
returns sooner than the simulated time), and `busy_cpu_seconds` says how much of it was this
process's own CPU. `pace=False` returns at once and only accounts `simulated_seconds`: a virtual
clock for benchmarks whose waves would take minutes of an H100 (a sequential explorer's wall time
on the GPU is then its wall time here minus `stats.seconds` plus `simulated_seconds`).
"""
from __future__ import annotations

import random
import time
import zlib
from collections import OrderedDict
from typing import Any

from search.policies.base import Completion, GenerationRequest
from search.policies.scripted import ScriptedPolicy
from search.policies.simulated_settings import SimulatedSettings
from search.tasks.base import Task

BLOCK_TOKENS = 16   # vLLM's default KV block size: the prefix cache's unit
VOCAB = 151_936     # Qwen2.5's vocabulary size: simulated ids stay in a real model's range


class SimulatedPolicy(ScriptedPolicy):
    """The scripted policy's completions (same seeds, same texts), timed as a continuous-batching
    GPU engine; see the module docstring for the timing model and where the defaults come from."""

    name = "simulated"

    settings_class = SimulatedSettings

    def __init__(self, task: Task, *args: Any, **options: Any) -> None:
        """The engine of `SimulatedSettings(*args, **options)` (or of one settings object) on `task`'s steps."""
        super().__init__(task, *args, **options)
        s = self.settings
        self.pace = s.pace   # False: account the engine's time without waiting it out (a virtual clock)
        self.tokens_per_s = float(s.tokens_per_s)
        self.sequence_tokens_per_s = float(s.sequence_tokens_per_s)
        self.prefill_tokens_per_s = float(s.prefill_tokens_per_s)
        self.max_batch = s.max_batch
        self.chars_per_token = float(s.chars_per_token)
        self._chunk = max(1, round(s.chars_per_token))
        self._block_chars = BLOCK_TOKENS * self._chunk
        self._cache_blocks = s.prefix_cache_tokens // BLOCK_TOKENS
        self._cache: OrderedDict[int, None] = OrderedDict()
        self.busy_cpu_seconds = 0.0   # of `stats.seconds`, this process's own CPU (making texts, hashing)
        self.prefill_seconds = 0.0
        self.decode_seconds = 0.0
        self.simulated_seconds = 0.0  # what the GPU engine would have taken: prefill + decode
        # Of decode time, what the batch spent waiting for its longest completion with fewer sequences
        # running than the engine can take (the wave barrier inside the engine).
        self.straggler_seconds = 0.0
        # Calls that took longer here than on the engine (making the texts on this CPU was slower):
        # time a GPU run would not spend, kept apart so that busy shares can leave it out.
        self.overrun_seconds = 0.0
        self._engine = None   # the continuous-batching clock of `submit`, started on first use
        self.length_tail = float(s.length_tail)

    def encode(self, text: str) -> list[int]:
        """Simulated token ids: one per `chars_per_token` characters, a stable hash of them."""
        step = self._chunk
        return [zlib.crc32(text[i:i + step].encode()) % VOCAB for i in range(0, len(text), step)]

    def prompt_tokens(self, request: GenerationRequest) -> int:
        if request.prompt_token_ids is not None:
            return len(request.prompt_token_ids)
        return -(-len(request.prompt) // self._chunk)

    def _uncached_tokens(self, prompt: str) -> int:
        """Prompt tokens the prefix cache does not hold; the prompt's blocks are cached afterwards."""
        size = self._block_chars
        full = len(prompt) // size
        cache = self._cache
        key, cached, blocks = 0, 0, []
        for b in range(full):
            key = hash((key, prompt[b * size:(b + 1) * size]))
            blocks.append(key)
            if cached == b and key in cache:
                cached += 1
                cache.move_to_end(key)
        for key in blocks[cached:]:
            cache[key] = None
        while len(cache) > self._cache_blocks:
            cache.popitem(last=False)
        return self.prompt_tokens(GenerationRequest(prompt=prompt)) - cached * BLOCK_TOKENS

    continuous = True

    def submit(self, requests: list[GenerationRequest]) -> list:
        """The scripted completions, each request's future done when a continuous-batching engine would
        have handed it back (search/policies/continuous_engine.py): no wave barrier. `pace` must be
        on: a virtual clock cannot say which request returns first."""
        if not self.pace:
            raise ValueError("policy.pace=false cannot be used with explore.continuous: requests return in "
                             "the order of the paced engine's clock")
        from search.policies.continuous_engine import ContinuousEngine

        if self._engine is None:
            self._engine = ContinuousEngine(self.tokens_per_s, self.sequence_tokens_per_s,
                                            self.prefill_tokens_per_s, self.max_batch)
        cpu_start = time.thread_time()
        before = self.stats.seconds
        out = super().generate(requests)
        self.stats.seconds = before   # the engine's time is its clock's (ContinuousEngine.busy_seconds)
        futures = [self._engine.add(completions, prefill, self._decode_lengths(request, completions))
                   for request, completions, prefill in zip(requests, out, self._prefill(requests))]
        self.busy_cpu_seconds += time.thread_time() - cpu_start
        return futures

    def _prefill(self, requests: list[GenerationRequest]) -> list[int]:
        """Each request's uncached prompt tokens (the prefix cache learns the prompts), counted in
        `stats` as prompt and cached tokens."""
        prefill = [self._uncached_tokens(r.prompt) for r in requests]
        prompt_total = sum(self.prompt_tokens(r) for r in requests)
        self.stats.prompt_tokens += prompt_total
        self.stats.cached_tokens += prompt_total - sum(prefill)
        return prefill

    def _decode_lengths(self, request: GenerationRequest, completions: list[Completion]) -> list[int]:
        """Tokens each completion takes to decode: its own, or with `length_tail` a lognormal multiple
        of it (seeded by the request), capped at the request's max_tokens, as a real model's tail."""
        lengths = [len(c.token_ids) for c in completions]
        if not self.length_tail:
            return lengths
        rng = random.Random(hash((request.seed, "tail")) & 0x7FFFFFFF)
        return [min(request.max_tokens, max(1, round(n * rng.lognormvariate(0.0, self.length_tail))))
                for n in lengths]

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        super().close()

    def generate(self, requests: list[GenerationRequest]) -> list[list[Completion]]:
        """The scripted completions, returned no sooner than the simulated engine would have."""
        start, cpu_start = time.perf_counter(), time.thread_time()
        before = self.stats.seconds
        out = super().generate(requests)
        self.stats.seconds = before   # the texts' own time is part of the simulated time below
        prefill = sum(self._prefill(requests))
        lengths = [n for r, cs in zip(requests, out) for n in self._decode_lengths(r, cs)]
        generated = sum(lengths)
        rate = min(self.tokens_per_s, self.max_batch * self.sequence_tokens_per_s)
        throughput = generated / rate
        decode = max(throughput, max(lengths, default=0) / self.sequence_tokens_per_s)
        simulated = prefill / self.prefill_tokens_per_s + decode
        self.busy_cpu_seconds += time.thread_time() - cpu_start
        left = simulated - (time.perf_counter() - start)
        if left > 0 and self.pace:
            time.sleep(left)
        self.prefill_seconds += prefill / self.prefill_tokens_per_s
        self.decode_seconds += decode
        self.simulated_seconds += simulated
        self.straggler_seconds += decode - throughput
        self.overrun_seconds += max(0.0, -left)
        self.stats.seconds += time.perf_counter() - start
        return out
