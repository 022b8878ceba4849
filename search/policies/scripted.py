"""The `scripted` backend: a deterministic stand-in that asks the task for plausible steps.

For tests and engine benchmarks only, never a default: it pushes thousands of nodes per second
through the explorer and store without a model, and with a known mistake rate.
"""
from __future__ import annotations

import json
import random
import time
from typing import Any

from search.policies.backend_settings import settings_from
from search.policies.base import Completion, GenerationRequest, Policy
from search.policies.scripted_settings import ScriptedSettings, StandInSettings
from search.tasks.base import Task


def fake_token_ids(text: str) -> list[int]:
    """Stand-in token ids: one per character, its code point (deterministic, no tokenizer)."""
    return [ord(c) for c in text]


class ScriptedPolicy(Policy):
    """Completions from `task.sample_step(state, rng, error_rate, problem)`, where `state` and `problem`
    are `request.meta["state"]` and `request.meta.get("problem")`; a request with `meta["rollout"]`
    gets whole completions to a final answer from `task.sample_rollout` instead.

    The rng of a request is seeded from (`seed`, `request.seed`, the state), so the same request
    gets the same `n` steps in any batch and any call. Token ids are the characters' code points;
    the logprob is a deterministic negative number (-0.1 per token, -0.1 for an empty step).

    `latency` (seconds) is slept once per `generate` call to simulate engine time, so that process
    tests (many workers, leases, kill -9) have waves slow enough to interrupt. `context_length`
    (stand-in tokens, i.e. characters; null: unbounded) lets tests refuse prompts that do not fit.
    """

    name = "scripted"

    settings_class: type[StandInSettings] = ScriptedSettings

    def __init__(self, task: Task, *args: Any, **options: Any) -> None:
        """Play `task`'s steps with the options of `ScriptedSettings(*args, **options)` (or of one
        settings object; a subclass names its own `settings_class`)."""
        super().__init__()
        self.settings = s = settings_from(self.settings_class, args, options)
        self.context_length = s.context_length   # in stand-in tokens (characters); tests of long prompts
        self.latency = getattr(s, "latency", 0.0)  # the simulated engine paces itself instead
        self.task = task
        self.error_rate = s.error_rate
        self.seed = s.seed

    def encode(self, text: str) -> list[int]:
        """The same stand-in ids that completions carry."""
        return fake_token_ids(text)

    def generate(self, requests: list[GenerationRequest]) -> list[list[Completion]]:
        """`n` task-sampled steps per request, in request order."""
        start = time.perf_counter()
        out: list[list[Completion]] = []
        generated = 0
        for i, req in enumerate(requests):
            if "state" not in req.meta:
                raise ValueError(f"request {i}: the scripted policy needs request.meta['state'] (the task state)")
            state = req.meta["state"]
            # A str seed is hashed by sha512 inside random.Random: stable across processes, unlike hash().
            rng = random.Random(f"{self.seed}|{req.seed}|{json.dumps(state, sort_keys=True, default=str)}")
            completions = []
            sample = self.task.sample_rollout if req.meta.get("rollout") else self.task.sample_step
            for _ in range(req.n):
                text = sample(state, rng, self.error_rate, req.meta.get("problem"))
                ids = self.encode(text)  # a subclass's tokenizer (the simulated engine's) applies here too
                completions.append(Completion(text, ids, -0.1 * max(len(ids), 1), "stop"))
                generated += len(ids)
            out.append(completions)
        if self.latency:
            time.sleep(self.latency)
        self.stats.calls += 1
        self.stats.requests += len(requests)
        self.stats.sequences += sum(r.n for r in requests)
        self.stats.generated_tokens += generated
        self.stats.seconds += time.perf_counter() - start
        return out
