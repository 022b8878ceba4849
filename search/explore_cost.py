"""What one explore invocation spent on its policy: the figures `runs.stats["cost"]`, the `run_costs`
table and the export's cost per accepted trajectory are made of."""
from __future__ import annotations

from typing import Any


def explore_cost(policy: Any, summary: Any) -> dict[str, Any]:
    """Prompt tokens (and, where the backend reports it, how many came from its prefix cache: vLLM's
    `num_cached_tokens`, an OpenAI-compatible server's `cached_tokens`, hf's shared-prefix cache, the
    simulated engine's block cache), generated tokens (steps and rollouts together), rollout tokens (of
    those), policy seconds, and for `policy=simulated` the modelled GPU engine's seconds (`gpu_seconds`:
    what an H100 would have taken, prefill and decode). `summary` is the explorer's run summary."""
    stats = policy.stats
    cost: dict[str, Any] = {
        "prompt_tokens": int(stats.prompt_tokens),
        "cached_prompt_tokens": int(stats.cached_tokens),
        "generated_tokens": int(summary.generated_tokens),
        "rollout_tokens": int(summary.rollout_tokens),
        "policy_seconds": round(float(summary.policy_seconds), 3),
        "gpu_seconds": None,
    }
    simulated = getattr(policy, "simulated_seconds", None)
    if isinstance(simulated, (int, float)):
        cost["gpu_seconds"] = round(float(simulated), 3)
    return cost


__all__ = ["explore_cost"]
