"""Model backends and `make_policy`, which builds one from a `policy` config (`backend:` + its options)."""
from __future__ import annotations

import ast
import importlib
import importlib.util
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, Callable

from search.policies.base import Completion, GenerationRequest, Policy, PolicyStats

# backend name -> "module:Class". Imported lazily so that `scripted` never loads torch.
# New backends (vllm, openai) add one line here.
BACKENDS: dict[str, str] = {
    "hf": "search.policies.hf:HFPolicy",
    "scripted": "search.policies.scripted:ScriptedPolicy",
    "vllm": "search.policies.vllm_backend:VLLMPolicy",
    "openai": "search.policies.openai_backend:OpenAIPolicy",
    "symbolic": "search.policies.symbolic:SymbolicPolicy",
    "simulated": "search.policies.simulated:SimulatedPolicy",
}
# Backends whose constructor takes the task as its first argument.
NEEDS_TASK = {"scripted", "symbolic", "simulated"}
# Backends that only work with some tasks: "module:function(task, **options)" raising ValueError,
# run by `validate_policy_config` when it is given the task (before anything is written).
TASK_CHECKS: dict[str, str] = {"symbolic": "search.policies.symbolic:check_task"}

__all__ = ["BACKENDS", "Completion", "GenerationRequest", "Policy", "PolicyStats", "make_policy", "policy_class",
           "policy_options", "validate_policy_config"]

# Option values checked before a backend is imported (importing `hf` loads torch; constructing any
# backend loads a model or opens connections): a stage validates its whole config before it writes
# anything. Each constructor checks the same again. name -> (accepts, what a good value is).
_AT_LEAST_1 = (lambda v: v is None or v >= 1, "an integer >= 1")
VALUE_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "batch_size": _AT_LEAST_1,
    "concurrency": _AT_LEAST_1,
    "tensor_parallel_size": _AT_LEAST_1,
    "max_model_len": _AT_LEAST_1,
    "context_length": _AT_LEAST_1,
    "max_retries": (lambda v: v >= 0, "an integer >= 0"),
    "latency": (lambda v: v >= 0, "a number of seconds >= 0"),
    "backoff": (lambda v: v >= 0, "a number of seconds >= 0"),
    "timeout": (lambda v: v > 0, "a number of seconds > 0"),
    "down_seconds": (lambda v: v > 0, "a number of seconds > 0"),
    "error_rate": (lambda v: 0 <= v <= 1, "a probability in [0, 1]"),
    "gpu_memory_utilization": (lambda v: 0 < v <= 1, "a fraction in (0, 1]"),
}
# Per backend; `hf` dtypes are the keys of search/policies/hf.py DTYPES (a test keeps them equal).
BACKEND_CHECKS: dict[str, dict[str, tuple[Callable[[Any], bool], str]]] = {
    "hf": {"dtype": (lambda v: v in ("float32", "bfloat16", "float16"), "one of float32, bfloat16, float16")},
    # an engine with no rate or no batch never answers: refused before anything is written
    "simulated": {**{rate: (lambda v: v > 0, "a rate > 0") for rate in
                     ("tokens_per_s", "sequence_tokens_per_s", "prefill_tokens_per_s", "chars_per_token")},
                  "max_batch": _AT_LEAST_1,
                  "prefix_cache_tokens": (lambda v: v >= 0, "an integer >= 0 (0: no prefix cache)")},
}
_TYPES: dict[str, Callable[[Any], bool]] = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "None": lambda v: v is None,
    "dict": lambda v: isinstance(v, Mapping),
    "list": lambda v: isinstance(v, Sequence) and not isinstance(v, (str, bytes)),  # and OmegaConf's ListConfig
}


def policy_class(backend: str) -> type[Policy]:
    """The Policy subclass registered under `backend`."""
    if backend not in BACKENDS:
        raise ValueError(f"policy.backend: unknown backend {backend!r}; choose one of {sorted(BACKENDS)}")
    module, _, name = BACKENDS[backend].partition(":")
    return getattr(importlib.import_module(module), name)


@lru_cache(maxsize=None)
def policy_options(backend: str) -> dict[str, tuple[str | None, bool]]:
    """The constructor options of `backend` without importing it: {name: (annotation, required)}.

    Read from the source with `ast`, so that validating a config never imports torch or vllm. A
    constructor's `**kwargs` (vllm's engine options) are not config options.
    """
    if backend not in BACKENDS:
        raise ValueError(f"policy.backend: unknown backend {backend!r}; choose one of {sorted(BACKENDS)}")
    module, _, name = BACKENDS[backend].partition(":")
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin:
        raise ValueError(f"policy.backend={backend!r}: its module {module} is not installed")
    with open(spec.origin, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), spec.origin)
    init = next(node for cls in tree.body if isinstance(cls, ast.ClassDef) and cls.name == name
                for node in cls.body if isinstance(node, ast.FunctionDef) and node.name == "__init__")
    args = init.args
    positional = args.posonlyargs + args.args
    first_default = len(positional) - len(args.defaults)
    options: dict[str, tuple[str | None, bool]] = {}
    for i, arg in enumerate(positional):
        options[arg.arg] = (ast.unparse(arg.annotation) if arg.annotation else None, i < first_default)
    for arg, default in zip(args.kwonlyargs, args.kw_defaults):
        options[arg.arg] = (ast.unparse(arg.annotation) if arg.annotation else None, default is None)
    for own in ("self", "task"):
        options.pop(own, None)
    return options


def _type_ok(value: Any, annotation: str | None) -> bool:
    """Whether `value` fits a simple annotation such as `int`, `float`, `str | None`, `dict[str, Any] | None`."""
    if annotation is None:
        return True
    for part in annotation.split("|"):
        base = part.strip().split("[", 1)[0]
        check = _TYPES.get(base)
        if check is None or check(value):  # an annotation this reader does not know accepts anything
            return True
    return False


def validate_policy_config(cfg: Mapping[str, Any] | Any, task=None) -> dict[str, Any]:
    """Check a `policy` config (backend, option names, value types and ranges) without importing the
    backend or loading a model; ValueError naming `policy.<option>` otherwise. With `task`, also
    whether the backend works with that task (`TASK_CHECKS`). Returns its options."""
    if not isinstance(cfg, Mapping):
        from omegaconf import OmegaConf

        cfg = OmegaConf.to_container(cfg, resolve=True)
    options = dict(cfg)
    if "backend" not in options:
        raise ValueError(f"policy config needs a `backend` (one of {sorted(BACKENDS)}); got keys {sorted(options)}")
    backend = options.pop("backend")
    known = policy_options(backend)
    unknown = sorted(set(options) - set(known))
    if unknown:
        names = ", ".join(f"policy.{name}" for name in unknown)
        raise ValueError(f"{names}: unknown option for backend {backend!r}; its options are {list(known)}")
    for name, (annotation, required) in known.items():
        if required and (name not in options or options[name] in (None, "???")):
            raise ValueError(f"policy.{name} is required by backend {backend!r}: set policy.{name}=...")
    checks = {**VALUE_CHECKS, **BACKEND_CHECKS.get(backend, {})}
    for name, value in options.items():
        annotation = known.get(name, (None, False))[0]
        if value == "???":
            raise ValueError(f"policy.{name} is not set (???): set policy.{name}=...")
        if not _type_ok(value, annotation):
            raise ValueError(f"policy.{name} must be {annotation}, got {value!r}")
        if name in checks and value is not None:
            accepts, what = checks[name]
            if not accepts(value):
                raise ValueError(f"policy.{name} must be {what}, got {value!r}")
    if task is not None and backend in TASK_CHECKS:
        module, _, name = TASK_CHECKS[backend].partition(":")
        getattr(importlib.import_module(module), name)(task, **options)
    return {"backend": backend, **options}


def make_policy(cfg: Mapping[str, Any] | Any, task=None) -> Policy:
    """A policy from a dict or OmegaConf config: `backend` picks the class, the other keys are its options.

    The config is checked first (`validate_policy_config`), so a bad option fails before a model loads.
    """
    options = validate_policy_config(cfg, task=task)
    backend = options.pop("backend")
    cls = policy_class(backend)
    if backend in NEEDS_TASK:
        if task is None:
            raise ValueError(f"policy backend {backend!r} needs the task: call make_policy(cfg, task=task)")
        return cls(task, **options)
    return cls(**options)
