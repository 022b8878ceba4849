"""Token counting in the policy's own tokenizer (lengths, budgets and dataset-card statistics)."""
from __future__ import annotations

from typing import Callable

from omegaconf import DictConfig

from traces.trajectory_stats import hf_token_counter, whitespace_tokens


def token_counter(cfg: DictConfig) -> Callable[[str], int]:
    """Counts tokens with the configured model's tokenizer; whitespace words if it has none."""
    try:
        from transformers import AutoTokenizer

        from search.policies.default_model import resolve_model

        tok = AutoTokenizer.from_pretrained(resolve_model(cfg.policy.model))
    except Exception:  # e.g. the scripted policy's model name, or an unreachable hub id
        return whitespace_tokens
    return hf_token_counter(tok)
