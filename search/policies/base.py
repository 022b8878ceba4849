"""The Policy interface: batched generation of one step per request, for any backend.

Algorithms never call a policy; the explorer collects every expansion of a wave into one
`generate` call so that the backend sees a large batch. Backends that take requests continuously
(a server, a continuous-batching engine) also hand each request back as soon as it is done
(`submit`), so that `explore.continuous` trees need not wait for a wave's slowest completion.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from search.sampling import SamplingSettings


class PolicyUnavailable(RuntimeError):
    """The model backend cannot be reached (server down, engine died). Everything stored so far is
    kept; re-running the same command resumes."""


@dataclass
class GenerationRequest(SamplingSettings):
    """One prompt to continue `n` times, with its sampling (`max_tokens`, `temperature`, `top_p`:
    search/sampling.py, checked by the backend with `check_sampling` when it is sent)."""

    prompt: str                                  # full prompt text (few-shot header + steps so far)
    prompt_token_ids: list[int] | None = None    # when set, backends continue these tokens exactly
    n: int = 1
    stop: tuple[str, ...] = ()        # stop strings (the explorer passes the task's step delimiter)
    seed: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # e.g. {"state": ...} for the scripted policy


@dataclass
class Completion:
    """One sampled continuation."""

    text: str                  # generated text, cut before the stop string
    token_ids: list[int]       # the generated token ids (through the token holding the stop string)
    logprob: float             # sum of the sampled tokens' log-probabilities
    finish_reason: str         # "stop" (stop string or EOS) | "length" (max_tokens reached)


@dataclass
class PolicyStats:
    calls: int = 0
    requests: int = 0
    sequences: int = 0
    prompt_tokens: int = 0
    generated_tokens: int = 0
    cached_tokens: int = 0     # prompt tokens served from a prefix cache
    seconds: float = 0.0


class Policy(ABC):
    """A model backend. `generate` returns one list of `n` completions per request, in order."""

    name: str = "policy"
    context_length: int | None = None
    """Tokens the model attends to, prompt and generated together (hf: the model config's
    `max_position_embeddings`; vllm: the engine's `max_model_len`; openai: `policy.context_length`
    or the server's `max_model_len`); None: unbounded or unknown. The explorer never sends a request
    whose prompt plus `max_tokens` exceeds it (see `context_overflow`)."""

    continuous: bool = False
    """Whether the backend has `submit`: each request handed back as soon as it is done (a server, an
    engine that batches continuously); `explore.continuous` needs it."""

    def __init__(self) -> None:
        self.stats = PolicyStats()

    @abstractmethod
    def generate(self, requests: list[GenerationRequest]) -> list[list[Completion]]:
        ...

    def submit(self, requests: list[GenerationRequest]) -> list[Future]:
        """One future per request, of its `n` completions, each completed as soon as that request is
        done (backends with `continuous = True`; `explore.continuous` sends its requests here)."""
        raise NotImplementedError(f"policy {self.name!r} answers whole batches only (generate)")

    def encode(self, text: str) -> list[int]:
        """Token ids of `text` in this policy's tokenizer (empty when it has none)."""
        return []

    def prompt_tokens(self, request: GenerationRequest) -> int:
        """How many tokens `request`'s prompt takes: its ids, or its text as `generate` encodes it."""
        if request.prompt_token_ids is not None:
            return len(request.prompt_token_ids)
        return len(self.encode(request.prompt))

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        """A chat prompt rendered with the model's template, ready to continue."""
        raise NotImplementedError(f"policy {self.name!r} has no chat template")

    def close(self) -> None:
        """Free the engine (processes, GPU memory)."""


def context_overflow(policy: Policy, request: GenerationRequest) -> str | None:
    """Why `request` does not fit `policy`'s context (its prompt tokens + `max_tokens` over
    `policy.context_length`), or None when it fits or the context is unbounded. Engines differ on
    such a prompt (vLLM refuses the whole batch, a transformers model runs past the positions it
    was trained on), so the explorer never sends one."""
    limit = policy.context_length
    if limit is None:
        return None
    prompt = policy.prompt_tokens(request)
    if prompt + request.max_tokens <= limit:
        return None
    return (f"the prompt does not fit the policy's context: {prompt:,} prompt tokens + {request.max_tokens:,} "
            f"max_tokens = {prompt + request.max_tokens:,} > {limit:,}, the context length of policy {policy.name!r}")
