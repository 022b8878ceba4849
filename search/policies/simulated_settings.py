"""Options of the `simulated` backend (search/policies/simulated.py): the scripted stand-in's texts,
paced like vLLM on one H100. Where the default rates come from: simulated.py's module docstring."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from search.policies.backend_settings import AT_LEAST_1, Checks, Ranges, at_least
from search.policies.scripted_settings import StandInSettings

RATES = ("tokens_per_s", "sequence_tokens_per_s", "prefill_tokens_per_s", "chars_per_token")


@dataclass
class SimulatedSettings(StandInSettings):
    """The scripted policy's completions, timed as a continuous-batching GPU engine (benchmarks and tests only)."""

    tokens_per_s: float = 12_500.0
    """Aggregate decode tokens/s of the engine, in [1, 1e9] (`ranges` says why)."""
    sequence_tokens_per_s: float = 40.0
    """One sequence's decode rate (1 / inter-token latency): how long the longest completion of a batch takes;
    in [1, 1e9] tokens/s."""
    prefill_tokens_per_s: float = 40_000.0
    """Uncached prompt tokens prefilled per second, in [1, 1e9]."""
    max_batch: int = 1024
    """Sequences decoding at once (vLLM's max_num_seqs), at most 65,536."""
    prefix_cache_tokens: int = 1_000_000
    """KV cache kept for earlier prompts' blocks of 16 tokens (0: no prefix cache), at most 1e8."""
    chars_per_token: float = 4.0
    """Simulated tokenizer: characters per token, in [1, 16]."""
    length_tail: float = 0.0
    """Sigma of a lognormal factor on each completion's decode time (seeded per request, capped at its
    max_tokens; 0: the texts' own lengths; at most 3). Real models' completion lengths have long tails, which is
    what makes a whole wave wait for its slowest; the scripted texts have almost none."""
    pace: bool = True
    """Wait out the simulated engine time; false: only account it (a virtual clock for long benchmarks)."""

    # An engine with no rate or no batch never answers: refused before anything is written (and see `ranges`).
    checks: ClassVar[Checks] = {**StandInSettings.checks, **{rate: (lambda v: v > 0, "a rate > 0") for rate in RATES},
                                "max_batch": AT_LEAST_1,
                                "length_tail": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0,
                                                "a number >= 0 (0: no tail)"),
                                "prefix_cache_tokens": (at_least(0), "an integer >= 0 (0: no prefix cache)")}
    # The engine stays a physically plausible one, and its clock a number Python can wait on
    # (time.sleep and Condition.wait overflow near 2**63 ns, 292 years: policy.prefill_tokens_per_s=1e-9 did).
    # - Token rates, 1 to 1e9 tokens/s: below one token a second no engine runs (even a 405B model decodes
    #   faster on one CPU socket), and at >= 1 a call waits at most its own token count in seconds; 1e9 is
    #   the "instant" engine the tests use (an H100 prefills ~1e5 tokens/s of a 7B model).
    # - chars_per_token 1 to 16: a byte-level tokenizer reads >= 1 character per token; English and code
    #   average 3-5 in Llama's and Qwen's vocabularies, none reaches 16.
    # - max_batch up to 65,536: vLLM's max_num_seqs is 256-1,024; 65,536 sequences exceed any GPU's KV cache.
    # - prefix_cache_tokens up to 1e8: 1e6 tokens of a 7B model's KV cache take ~57 GB; 1e8 is 100 GPUs.
    # - length_tail up to 3: real completion lengths have a lognormal sigma near 0.5-1.5; 3 stretches one
    #   completion in 1,000 by e^9 (then capped at max_tokens), and a far larger sigma overflows exp().
    ranges: ClassVar[Ranges] = {**StandInSettings.ranges, **{rate: (1, 1e9, " tokens/s") for rate in RATES[:3]},
                                "chars_per_token": (1, 16, " characters per token"),
                                "max_batch": (1, 65_536, " sequences"), "prefix_cache_tokens": (0, 1e8, " tokens"),
                                "length_tail": (0, 3, " (lognormal sigma)")}
