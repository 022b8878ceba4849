"""A linearizer's options as its config dataclass, whatever form the caller gives them in."""
from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

C = TypeVar("C")


def as_config(cls: type[C], cfg: Any) -> C:
    """`cfg` as the linearizer's config dataclass: None, an instance, or a mapping (dict / Hydra).

    Unknown keys are an error naming the option, so a typo in a sweep does not silently run the
    defaults.
    """
    if cfg is None:
        return cls()
    if isinstance(cfg, cls):
        return cfg
    if not hasattr(cfg, "items"):
        raise TypeError(f"{cls.__name__}: expected a mapping or {cls.__name__}, got {type(cfg).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    values = dict(cfg.items())
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown option(s) {unknown}; known: {sorted(known)}")
    return cls(**values)


__all__ = ["as_config"]
