"""The settings of one run config as typed objects, each group's class built once per stage run and
handed to the stages (TRL's scripts parse every config once into dataclasses and pass them on).

A stage's `run(cfg)` is `run_with(RunParts.of(cfg))`: the config is validated, every group is built,
and the stage reads its options from the objects. A composite stage (`run`, `evolve`) builds them once
and calls each stage's `run_with`; evolve makes a round's parts as copies with changed fields
(`RunParts.changed`), never by writing dotted paths into a raw config. `cfg` is the resolved config
the objects stand for: what `runs.config` records, and what the task and the policy are built from.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from db.settings import StoreSettings
from journeyforge.components import settings, validate_config
from search.algorithms import SearchSettings
from search.explorer import ExploreSettings
from traces.export_settings import ExportSettings
from traces.linearize_settings import LinearizeSettings
from training.eval_settings import EvalSettings
from training.prm_settings import PRMSettings
from training.rl_settings import RLSettings
from training.sft_settings import TrainSettings

# The groups a stage of `run` / `evolve` reads, with their settings classes.
GROUPS: dict[str, type] = {
    "store": StoreSettings, "search": SearchSettings, "explore": ExploreSettings, "linearize": LinearizeSettings,
    "export": ExportSettings, "train": TrainSettings, "eval": EvalSettings, "rl": RLSettings, "prm": PRMSettings,
}


@dataclass(frozen=True)
class RunParts:
    """Each group of one run config as its settings object (None for a group the config lacks)."""

    cfg: DictConfig
    """The config these objects stand for (for a copy made by `changed`, the one made from them)."""
    task: dict
    """The task config as given (the task's config class, search/tasks/<name>/settings.py, checks it when
    the task is built; kept as given, since that class fills some defaults in from others)."""
    policy: dict
    """The policy config (backend and its options), checked by its backend's settings."""
    store: StoreSettings | None = None
    search: SearchSettings | None = None
    explore: ExploreSettings | None = None
    linearize: LinearizeSettings | None = None
    export: ExportSettings | None = None
    train: TrainSettings | None = None
    eval: EvalSettings | None = None
    rl: RLSettings | None = None
    prm: PRMSettings | None = None

    @classmethod
    def of(cls, cfg: DictConfig, validate: bool = True) -> "RunParts":
        """The parts of `cfg`, after `validate_config` (every setting, before anything is written), whose
        settings objects they are: each class is built once (without `validate`, here)."""
        return cls.made(cfg, validate_config(cfg) if validate else {})

    @classmethod
    def made(cls, cfg: DictConfig, built: dict[str, Any]) -> "RunParts":
        """The parts of `cfg` with the objects `built` of it (what `validate_config(cfg)` returned), a
        group missing there built here: how a composite stage that has validated its config hands on
        the objects the checks built."""
        task, policy = ({} if cfg.get(g) is None else OmegaConf.to_container(cfg[g], resolve=True)
                        for g in ("task", "policy"))
        groups = {g: built[g] if g in built else settings(c, cfg[g], g)
                  for g, c in GROUPS.items() if cfg.get(g) is not None}
        return cls(cfg, task, policy, **groups)

    @property
    def name(self) -> str:
        return str(self.cfg.name)

    def kinds_to_train(self) -> list[str]:
        """The kinds `train` and `eval` tune: `train.kinds`, else `linearize.train_kinds`, else `linearize.kinds`."""
        lin = self.linearize
        for kinds in ((self.train.kinds if self.train else None), lin and lin.train_kinds, lin and lin.kinds):
            if kinds is not None:
                return list(kinds)
        return []

    def changed(self, name: str | None = None, **fields: Any) -> "RunParts":
        """A copy with `fields` (settings objects; the task and policy dicts) replacing these and, with
        `name`, another run name. Its `cfg` is this one resolved with the changed groups made from the
        new objects (and the name), so that the stages and `runs.config` see the same settings."""
        record = OmegaConf.to_container(self.cfg, resolve=True)
        for group, value in fields.items():
            record[group] = dataclasses.asdict(value) if dataclasses.is_dataclass(value) else dict(value)
        if name is not None:
            record["name"] = name
        return dataclasses.replace(self, cfg=OmegaConf.create(record), **fields)
