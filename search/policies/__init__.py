"""Model backends and `make_policy`, which builds one from a `policy` config (`backend:` + its options).

One registry, `BACKENDS`: a backend name -> its policy class and its settings dataclass. A config is
checked by building the settings (`validate_policy_config`), which imports no engine; the backend
is then built from that settings object (`make_policy`).
"""
from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from search.policies.backend_settings import BackendSettings, build_settings, option_names
from search.policies.base import Completion, GenerationRequest, Policy, PolicyStats


@dataclass(frozen=True)
class Backend:
    """One registry entry: where the backend and its settings live ("module:Class", imported lazily)."""

    policy: str
    """The Policy subclass; importing it may load torch or vllm, so only `make_policy` does."""
    settings: str
    """Its settings dataclass (the options, their help and checks), in a module that imports no engine."""
    needs_task: bool = False
    """The constructor takes the task first (stand-ins and the symbolic expander play the task's steps)."""


BACKENDS: dict[str, Backend] = {
    "hf": Backend("search.policies.hf:HFPolicy", "search.policies.hf_settings:HFSettings"),
    "vllm": Backend("search.policies.vllm_backend:VLLMPolicy", "search.policies.vllm_settings:VLLMSettings"),
    "openai": Backend("search.policies.openai_backend:OpenAIPolicy", "search.policies.openai_settings:OpenAISettings"),
    "scripted": Backend("search.policies.scripted:ScriptedPolicy", "search.policies.scripted_settings:ScriptedSettings",
                        needs_task=True),
    "symbolic": Backend("search.policies.symbolic:SymbolicPolicy", "search.policies.symbolic_settings:SymbolicSettings",
                        needs_task=True),
    "simulated": Backend("search.policies.simulated:SimulatedPolicy",
                         "search.policies.simulated_settings:SimulatedSettings", needs_task=True),
}

__all__ = ["BACKENDS", "BACKEND_CHECKS", "Backend", "BackendSettings", "Completion", "GenerationRequest", "Policy",
           "PolicyStats", "backend_settings", "make_policy", "policy_class", "policy_options", "settings_class",
           "validate_policy_config"]


def _entry(backend: str) -> Backend:
    if backend not in BACKENDS:
        raise ValueError(f"policy.backend: unknown backend {backend!r}; choose one of {sorted(BACKENDS)}")
    return BACKENDS[backend]


def _load(path: str) -> type:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def policy_class(backend: str) -> type[Policy]:
    """The Policy subclass registered under `backend` (imports its engine)."""
    return _load(_entry(backend).policy)


def settings_class(backend: str) -> type[BackendSettings]:
    """The settings dataclass of `backend`, without importing the backend."""
    return _load(_entry(backend).settings)


class _BackendChecks(Mapping):
    """backend -> its settings' range checks ({option: (accepts, what)}), read from the settings classes."""

    def __getitem__(self, backend: str):
        return settings_class(backend).checks

    def __iter__(self):
        return iter(BACKENDS)

    def __len__(self) -> int:
        return len(BACKENDS)


BACKEND_CHECKS: Mapping[str, Mapping] = _BackendChecks()
"""Each backend's value checks, as its settings class declares them (loaded when asked for)."""


def policy_options(backend: str) -> list[str]:
    """The option names of `backend` (the fields of its settings dataclass), without importing it."""
    return option_names(settings_class(backend))


def _split(cfg: Mapping[str, Any] | Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(cfg, Mapping):
        from omegaconf import OmegaConf

        cfg = OmegaConf.to_container(cfg, resolve=True)
    options = dict(cfg)
    if "backend" not in options:
        raise ValueError(f"policy config needs a `backend` (one of {sorted(BACKENDS)}); got keys {sorted(options)}")
    return options.pop("backend"), options


def backend_settings(cfg: Mapping[str, Any] | Any, task=None) -> tuple[str, BackendSettings]:
    """The backend name and its settings object from a `policy` config, without importing the backend
    or loading a model; ValueError naming `policy.<option>` otherwise. With `task`, also whether the
    backend works with that task (its settings' `check_task`)."""
    backend, options = _split(cfg)
    settings = build_settings(settings_class(backend), options, backend)
    if task is not None:
        settings.check_task(task)
    return backend, settings


def validate_policy_config(cfg: Mapping[str, Any] | Any, task=None) -> dict[str, Any]:
    """Check a `policy` config (`backend_settings`) and return it as a plain dict: backend + the options given."""
    backend, options = _split(cfg)
    backend_settings({"backend": backend, **options}, task=task)
    return {"backend": backend, **options}


def make_policy(cfg: Mapping[str, Any] | Any, task=None) -> Policy:
    """A policy from a dict or OmegaConf config: `backend` picks the class, the other keys are its options.

    The settings are built first (`backend_settings`), so a bad option fails before a model loads; the
    backend is built from them.
    """
    backend, settings = backend_settings(cfg, task=task)
    cls = policy_class(backend)
    if BACKENDS[backend].needs_task:
        if task is None:
            raise ValueError(f"policy backend {backend!r} needs the task: call make_policy(cfg, task=task)")
        return cls(task, settings)
    return cls(settings)
