"""Model backends and `make_policy`, which builds one from a `policy` config (`backend:` + its options)."""
from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from typing import Any

from search.policies.base import Completion, GenerationRequest, Policy, PolicyStats

# backend name -> "module:Class". Imported lazily so that `scripted` never loads torch.
# New backends (vllm, openai) add one line here.
BACKENDS: dict[str, str] = {
    "hf": "search.policies.hf:HFPolicy",
    "scripted": "search.policies.scripted:ScriptedPolicy",
    "vllm": "search.policies.vllm_backend:VLLMPolicy",
    "openai": "search.policies.openai_backend:OpenAIPolicy",
}
# Backends whose constructor takes the task as its first argument.
NEEDS_TASK = {"scripted"}

__all__ = ["BACKENDS", "Completion", "GenerationRequest", "Policy", "PolicyStats", "make_policy", "policy_class"]


def policy_class(backend: str) -> type[Policy]:
    """The Policy subclass registered under `backend`."""
    if backend not in BACKENDS:
        raise ValueError(f"policy.backend: unknown backend {backend!r}; choose one of {sorted(BACKENDS)}")
    module, _, name = BACKENDS[backend].partition(":")
    return getattr(importlib.import_module(module), name)


def make_policy(cfg: Mapping[str, Any] | Any, task=None) -> Policy:
    """A policy from a dict or OmegaConf config: `backend` picks the class, the other keys are its options."""
    if not isinstance(cfg, Mapping):
        from omegaconf import OmegaConf

        cfg = OmegaConf.to_container(cfg, resolve=True)
    options = dict(cfg)
    if "backend" not in options:
        raise ValueError(f"policy config needs a `backend` (one of {sorted(BACKENDS)}); got keys {sorted(options)}")
    backend = options.pop("backend")
    cls = policy_class(backend)
    params = inspect.signature(cls.__init__).parameters
    allowed = [p for p in params if p not in ("self", "task")]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        names = ", ".join(f"policy.{name}" for name in unknown)
        raise ValueError(f"{names}: unknown option for backend {backend!r}; its options are {allowed}")
    if backend in NEEDS_TASK:
        if task is None:
            raise ValueError(f"policy backend {backend!r} needs the task: call make_policy(cfg, task=task)")
        return cls(task, **options)
    return cls(**options)
