"""Builds the store, task, policy and settings a stage needs from its Hydra config (or from settings
objects already built: `store_of`, `policy_of`, `with_options`).

Every stage calls `validate_config(cfg)` first (through `RunParts.of`, journeyforge/stages/run_parts.py),
so that a bad setting fails before the store is opened."""
from __future__ import annotations

import dataclasses
from typing import Any

from omegaconf import DictConfig, OmegaConf

import journeyforge.resolvers  # noqa: F401  (registers ${join:...})
from db import TraceStore
from db.settings import StoreSettings
from journeyforge.settings import ConfigError, settings, train_kinds, validate_config  # noqa: F401
from training.eval_settings import EvalSettings
from search.explorer import ExploreSettings
from search.policies import make_policy, policy_options
from search.tasks import make_task
from search.tasks.rows import ProblemFileError


def open_store(cfg: DictConfig, create: bool = False) -> TraceStore:
    """The configured store. Only stages that grow trees (explore, and run/experiment through it) pass
    `create=True`: the others read what explore wrote, so a mistyped store.url is an error there, not a
    new empty store."""
    return store_of(settings(StoreSettings, cfg.store, "store"), create)


def store_of(opts: StoreSettings, create: bool = False) -> TraceStore:
    """The store of settings `opts` (`open_store` for a stage that has built its settings already)."""
    return TraceStore(opts.url, create=create, busy_timeout=opts.busy_timeout)


def build_task(cfg: DictConfig):
    return make_task(cfg.task)


def load_problems(task) -> list:
    """`task.load_problems()`; a ValueError there comes from the task settings (e.g. a range the
    generator cannot fill), so it ends as a ConfigError. A bad file row stays a ProblemFileError."""
    try:
        return task.load_problems()
    except ProblemFileError:
        raise
    except ValueError as err:
        raise ConfigError(" ".join(str(err).split())) from None


def build_policy(cfg: DictConfig, task=None, **overrides: Any):
    return policy_of(OmegaConf.to_container(cfg.policy, resolve=True), task, **overrides)


def policy_of(policy: dict, task=None, **overrides: Any):
    """The policy of config `policy` (backend and options) with `overrides` over it."""
    node = model_policy(policy) if "model" in overrides else dict(policy)
    node.update(overrides)
    return make_policy(node, task=task)


def model_policy(policy: dict, seed: int = 0) -> dict:
    """A copy of the policy config `policy` that can load a trained model: itself, or transformers (`hf`,
    with its seed, else `seed`) when its backend loads none (the trees were grown by policy=symbolic or
    scripted)."""
    if "model" in policy_options(policy["backend"]):
        return dict(policy)
    return {"backend": "hf", "seed": policy.get("seed", seed)}


def explore_settings(cfg: DictConfig) -> ExploreSettings:
    return settings(ExploreSettings, cfg.explore, "explore")


def eval_settings(cfg: DictConfig) -> EvalSettings:
    return settings(EvalSettings, cfg.eval, "eval")


def with_options(base: Any, options: dict[str, Any], group: str, cls: type | None = None) -> Any:
    """A copy of the settings object `base` (as `cls`, by default its own class: a base class such as
    SFTSettings keeps only its own fields) with a user's `options` over its fields, checked as the
    group is (`settings`): an unknown option or a value of the wrong type names `group.<option>`.
    How a composite stage makes the settings of a stage it calls from its own, instead of patching the
    raw config; a nested options object given as a mapping replaces the nested one, as in the config."""
    cls = cls or type(base)
    names = {f.name for f in dataclasses.fields(cls)}
    data = {name: value for name, value in dataclasses.asdict(base).items() if name in names}
    return settings(cls, {**data, **options}, group)
