"""Options of the stand-in backends (`scripted`, and `simulated` on top of it), for tests and benchmarks."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from search.policies.backend_settings import (AT_LEAST_1, CONTEXT_TOKENS, PROBABILITY, SECONDS, WAIT_SECONDS,
                                              BackendSettings, Checks, Ranges)


@dataclass
class StandInSettings(BackendSettings):
    """What both stand-ins take: the task's plausible steps, with a known mistake rate."""

    error_rate: float = 0.3
    """Chance that a sampled step is a mistake (`task.sample_step`'s error rate)."""
    seed: int = 0
    """Seed of every request's steps, with the request's seed and state (any batch, any call: the same steps)."""
    context_length: int | None = None
    """Stand-in tokens a prompt + max_tokens may take (characters for `scripted`); null: unbounded."""

    checks: ClassVar[Checks] = {"error_rate": PROBABILITY, "context_length": AT_LEAST_1}
    ranges: ClassVar[Ranges] = {"context_length": CONTEXT_TOKENS}


@dataclass
class ScriptedSettings(StandInSettings):
    """A deterministic stand-in that plays steps from the task's solver."""

    latency: float = 0.0
    """Seconds slept per `generate` call: simulated engine time, so that process tests can interrupt a wave."""

    checks: ClassVar[Checks] = {**StandInSettings.checks, "latency": SECONDS}
    ranges: ClassVar[Ranges] = {**StandInSettings.ranges, "latency": WAIT_SECONDS}
