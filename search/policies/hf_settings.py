"""Options of the `hf` backend (search/policies/hf.py), importable without torch."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from search.policies.backend_settings import AT_LEAST_1, BATCH_SEQUENCES, CONTEXT_TOKENS, BackendSettings, Checks, Ranges
from search.policies.default_model import DEFAULT_MODEL

# The keys of hf.py's DTYPES (torch dtypes; a test keeps the two equal).
DTYPE_NAMES = ("float32", "bfloat16", "float16")


@dataclass
class HFSettings(BackendSettings):
    """A transformers causal LM (plus an optional peft LoRA adapter) on CPU or GPU."""

    model: str = DEFAULT_MODEL
    """The bundled default (`smollm2-135m`), a local model directory or a hub id."""
    adapter: str | None = None
    """A peft LoRA directory applied on top of `model` (merged into its weights)."""
    device: str = "cpu"
    """Torch device of the model: `cpu`, `cuda`, `cuda:1`, ..."""
    dtype: str = "float32"
    """Weights' dtype: float32, bfloat16 or float16."""
    batch_size: int = 64
    """Sequences per forward pass."""
    seed: int = 0
    """Seed of every sample, with the request's seed and prompt (a sample does not depend on its batch)."""
    prefix_cache: bool = True
    """Compute the prompt prefix a batch shares (the few-shot header) once and reuse its KV cache across calls."""
    context_length: int | None = None
    """Prompt + generated tokens a request may take, at most the model's own; null: the model config's
    `max_position_embeddings`."""

    # The context length is checked against the model's own when it loads (hf.py).
    checks: ClassVar[Checks] = {"dtype": (lambda v: v in DTYPE_NAMES, "one of " + ", ".join(DTYPE_NAMES)),
                                "batch_size": AT_LEAST_1, "context_length": AT_LEAST_1}
    ranges: ClassVar[Ranges] = {"batch_size": BATCH_SEQUENCES, "context_length": CONTEXT_TOKENS}
