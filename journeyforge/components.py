"""Builds the store, task, policy and algorithm a stage needs from its Hydra config."""
from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

import journeyforge.resolvers  # noqa: F401  (registers ${join:...})
from db import TraceStore
from search.algorithms import SearchSettings, make_algorithm
from search.explorer import ExploreSettings
from search.policies import make_policy
from search.tasks import make_task


def settings(cls, node: DictConfig | dict | None, **extra: Any):
    """A settings dataclass from a config node; an unknown key fails with its name."""
    data = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node or {})
    data.update(extra)
    merged = OmegaConf.merge(OmegaConf.structured(cls), data)
    return OmegaConf.to_object(merged)


def open_store(cfg: DictConfig) -> TraceStore:
    return TraceStore(cfg.store.url)


def build_task(cfg: DictConfig):
    return make_task(cfg.task)


def build_policy(cfg: DictConfig, task=None, **overrides: Any):
    node = OmegaConf.to_container(cfg.policy, resolve=True)
    node.update(overrides)
    return make_policy(node, task=task)


def build_algorithm(cfg: DictConfig):
    return make_algorithm(settings(SearchSettings, cfg.search))


def explore_settings(cfg: DictConfig) -> ExploreSettings:
    return settings(ExploreSettings, cfg.explore, seed=cfg.seed)
