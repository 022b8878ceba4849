"""The settings of every stage: one dataclass per config group, registered with Hydra's ConfigStore,
and `validate_config`, which checks all of them before a stage writes anything.

The dataclasses are the only defaults (TRL's one-config-per-method, each field documented where it is
defined): `conf/<group>/*.yaml` extend `schema/<group>` and hold only overrides. Groups and their
dataclasses:

  task       search/tasks/<name>/settings.py (each task's config class), as `schema/task/<name>`
  search     search/algorithms/__init__.py SearchSettings (shared options, each algorithm's, each value estimator's)
  explore    search/explorer.py ExploreSettings
  linearize  traces/linearize_settings.py LinearizeSettings (its kinds' options are traces/ configs)
  export     traces/export_settings.py ExportSettings
  train      training/sft_settings.py TrainSettings
  eval       training/eval_settings.py EvalSettings
  experiment journeyforge/experiment_settings.py ExperimentSettings (arms, seeds, budget, report)
  rl         training/rl_settings.py RLSettings
  evolve     journeyforge/evolve_settings.py EvolveSettings (rounds, problem selection, next round's policy)
  policy     search/policies/<backend>_settings.py (named in BACKENDS), built by `validate_policy_config`
  view       viewer/settings.py ViewSettings
  label      search/judge_settings.py LabelSettings (`journeyforge label`: judge and oracle step labels)
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from db.settings import StoreSettings
from search.algorithms import SearchSettings, make_algorithm
from search.explorer import ExploreSettings
from search.judge_settings import LabelSettings
from search.policies import validate_policy_config
from search.tasks import TASKS, make_task
from traces.export_settings import ExportSettings
from traces.linearize import kind_names
from traces.linearize_settings import LinearizeSettings
from traces.llm_reflection import RewriteConfig
from traces.reflections import STYLES
from journeyforge.evolve_settings import EvolveSettings
from journeyforge.experiment_settings import ExperimentSettings
from journeyforge.stage_folders import StageConfig, stage_folders_problem
from training.eval_settings import EvalSettings
from training.prm_settings import PRMSettings
from training.rl_settings import RLSettings
from training.sft_settings import TrainSettings
from viewer.settings import ViewSettings


class ConfigError(ValueError):
    """A setting cannot work; the message names the option and what to use instead."""


# Hydra group -> its settings dataclass (`schema/<group>` in the ConfigStore).
SCHEMAS: dict[str, type] = {
    "search": SearchSettings, "explore": ExploreSettings, "linearize": LinearizeSettings,
    "export": ExportSettings, "train": TrainSettings, "eval": EvalSettings,
    "experiment": ExperimentSettings, "rl": RLSettings, "view": ViewSettings, "store": StoreSettings,
    "prm": PRMSettings, "evolve": EvolveSettings, "label": LabelSettings,
}



def task_config_classes() -> dict[str, type]:
    """Task name -> its config dataclass, importing only the settings modules."""
    out = {}
    for name, entry in TASKS.items():
        _, _, module, cls = entry.split(":")
        try:
            out[name] = getattr(importlib.import_module(module), cls)
        except ModuleNotFoundError as err:
            if err.name is None or not module.startswith(err.name):
                raise
            # a registered task whose package is not there: `task=<name>` says it is unknown
    return out


def register_configs() -> None:
    """Store every settings dataclass in Hydra's ConfigStore (idempotent)."""
    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    for group, cls in SCHEMAS.items():
        store.store(group="schema", name=group, node=cls)
    for name, cls in task_config_classes().items():
        store.store(group="schema/task", name=name, node=cls)


def _first_line(err: BaseException) -> str:
    return " ".join(str(err).split("\n", 1)[0].split())


def settings(cls, node: DictConfig | dict | None, group: str = "", **extra: Any):
    """A settings dataclass from the config node of `group`; an unknown key or a value of the wrong
    type raises ConfigError naming `group.<key>`, a value its checks reject ValueError."""
    try:
        data = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node or {})
        data.update(extra)
        base = OmegaConf.structured(cls)
        for f in dataclasses.fields(cls):
            # A plain mapping given in the config replaces its default instead of being merged into it:
            # merging would bring back a key deleted with `~group.option.key` (an experiment arm).
            if isinstance(data.get(f.name), dict) and OmegaConf.get_type(base, f.name) is dict:
                base[f.name] = {}
        return OmegaConf.to_object(OmegaConf.merge(base, data))
    except OmegaConfBaseException as err:
        group = group or cls.__name__
        key = getattr(err, "full_key", None) or getattr(err, "key", None)
        if key and str(key).startswith(f"{group}."):
            key = str(key)[len(group) + 1:]
        known = [f.name for f in dataclasses.fields(cls)]
        if key and str(key).split(".")[0] not in known:
            raise ConfigError(f"{group}.{key} is not an option of {group}; its options are {known}") from None
        raise ConfigError(f"{group}.{key if key else ''}: {_first_line(err)}".replace(".:", ":")) from None
    except ValueError as err:  # a nested dataclass's check names itself: JourneyConfig.k -> linearize.journey.k
        message = str(err)
        for f in dataclasses.fields(cls):
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            if dataclasses.is_dataclass(default):
                message = message.replace(f"{type(default).__name__}.", f"{group}.{f.name}.")
        raise ValueError(message) from None


def _names(value: Any) -> list:
    return list(value) if value is not None else []


def train_kinds(cfg: DictConfig) -> list[str]:
    """The kinds `train` and `eval` tune: `train.kinds`, else `linearize.train_kinds`, else `linearize.kinds`."""
    train, linearize = cfg.get("train") or {}, cfg.get("linearize") or {}
    for kinds in (train.get("kinds"), linearize.get("train_kinds"), linearize.get("kinds")):
        if kinds is not None:
            return list(kinds)
    return []


def rewrite_options(node: Any) -> tuple[dict[str, Any], RewriteConfig]:
    """`linearize.rewrite` split into the policy config and the generation options."""
    options = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node or {})
    generation = {f.name: options.pop(f.name) for f in dataclasses.fields(RewriteConfig) if f.name in options}
    return options, RewriteConfig(**generation)


def _check_linearize(cfg: DictConfig) -> LinearizeSettings:
    lin = settings(LinearizeSettings, cfg.linearize, "linearize")
    if not lin.kinds:
        raise ValueError("linearize.kinds is empty; choose from " + ", ".join(kind_names()))
    for kind in lin.kinds:
        if kind not in kind_names():  # the registry of traces/linearize.py, so a new kind needs no edit here
            raise ValueError(f"linearize.kinds: unknown kind {kind!r}; choose from {', '.join(kind_names())}")
    extra = sorted(set(_names(lin.train_kinds)) - set(lin.kinds))
    if extra:
        raise ValueError(f"linearize.train_kinds {extra} are not among linearize.kinds {lin.kinds}")
    if lin.journey.reflection not in STYLES:
        raise ValueError(f"linearize.journey.reflection={lin.journey.reflection!r}: choose one of {list(STYLES)}")
    if "journey" in lin.kinds and lin.journey.reflection == "llm":
        policy, _ = rewrite_options(lin.rewrite)
        try:
            validate_policy_config(policy)
        except ValueError as err:  # name the node the option is in
            raise ValueError(str(err).replace("policy.", "linearize.rewrite.")) from None
    return lin


def _check(cfg: DictConfig, group: str, built: dict[str, Any]) -> Any:
    """Validate one group of `cfg` and return its settings object (the task for `task`, None for
    `policy`, whose backend's settings stay in search/policies); ValueError naming the option otherwise."""
    node = cfg[group]
    if group == "task":
        return make_task(node)
    if group == "policy":
        # With the task: a backend that only some tasks support (symbolic) is refused here.
        validate_policy_config(node, task=built.get("task"))
        return None
    if group == "linearize":
        return _check_linearize(cfg)
    if group == "store":
        return _check_store(node)
    built_group = settings(SCHEMAS[group], node, group)
    if hasattr(built_group, "validate"):
        built_group.validate()
    if group == "search":
        make_algorithm(built_group)
        if built_group.value == "prm" and "task" in cfg:
            _check_scorer_task(built_group.prm, cfg.task)
    elif group == "train" and "linearize" in cfg:
        missing = sorted(set(train_kinds(cfg)) - set(cfg.linearize.kinds))
        if missing:
            raise ValueError(f"train.kinds {missing} are not among linearize.kinds {list(cfg.linearize.kinds)}: "
                             "nothing of those kinds is exported")
    elif group == "eval" and built_group.prm is not None and "task" in cfg:
        _check_scorer_task(built_group.prm, cfg.task, "eval.prm")
    return built_group


def _check_store(node: DictConfig) -> StoreSettings:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from journeyforge.credentials import mask_text

    store = settings(StoreSettings, node, "store")
    try:
        make_url(node.url)
    except (ArgumentError, ValueError, TypeError):
        raise ValueError(f"store.url={mask_text(str(node.url))!r} is not a database URL; e.g. "
                         "sqlite:///outputs/journeyforge.db or postgresql+psycopg://user@host/db") from None
    return store


def _check_scorer_task(path: str, task: DictConfig, option: str = "search.prm") -> None:
    """A step scorer trained on another task's (or dataset's) trees cannot value or rank this one's
    steps: `search.prm` (the search's values) and `eval.prm` (eval.scaling's rankings) alike."""
    from search.values import check_scorer_dir

    trained = check_scorer_dir(path, option).get("task") or {}
    mine = {"name": task.get("name"), "dataset": task.get("dataset")}
    for key in ("name", "dataset"):
        if trained.get(key) is not None and mine[key] is not None and trained[key] != mine[key]:
            raise ValueError(f"{option}={path} was trained on task {trained.get('name')} (dataset "
                             f"{trained.get('dataset')}), not on this run's {mine['name']} (dataset {mine['dataset']}): "
                             "train a scorer on this task's trees with `journeyforge prm`")


GROUPS = ("task", "policy", "search", "explore", "linearize", "export", "train", "eval", "experiment", "rl", "view",
          "store", "prm", "evolve", "label")


# `runs.name` is VARCHAR(200) and stages add suffixes (`<name>/journey_mixed-s2`); the name is also
# a folder under outputs/ (workdir), so it must be one path component that stays inside it.
MAX_NAME = 120


def check_run_name(name: Any) -> None:
    """ConfigError unless `name` is a usable experiment name: 1-120 characters, no '/', '\\' or
    control characters, not starting with '.' (so not '..': Hydra's and the viewer's files would land
    outside outputs/). `<name>/round-<k>`, the runs of an evolve round, is checked as `<name>`."""
    text = "" if name is None else str(name)
    base, _, rnd = text.rpartition("/round-")
    if base and rnd.isascii() and rnd.isdigit():  # a round of `journeyforge evolve`: outputs/<name>/round-<k>
        text = base
    shown = text if len(text) <= 40 else text[:37] + "..."
    if not text:
        raise ConfigError("name is empty: an experiment name is 1-120 characters, e.g. name=demo")
    if len(text) > MAX_NAME:
        raise ConfigError(f"name={shown!r} is {len(text)} characters; an experiment name has at most {MAX_NAME} "
                          "(it names the run rows and the folder outputs/<name>)")
    if "/" in text or "\\" in text or text.startswith(".") or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ConfigError(f"name={shown!r}: an experiment name is one folder name under outputs/: no '/', '\\' or "
                          "control characters, and it may not start with '.'")


def validate_config(cfg: DictConfig, stage: str | None = None) -> dict[str, Any]:
    """Check every setting of a run config before anything is written; ConfigError otherwise. Returns
    the objects the checks built, by group (`SCHEMAS`' settings objects, and the task for `task`), so
    that a stage uses them instead of building its settings again (`RunParts.of`).

    Nothing here loads a model's weights, opens the store or reads a problem file: the task and the
    algorithm are built (cheap), the policy config is checked against its backend's constructor, and
    every other group is converted to its settings dataclass, whose checks run on construction. Last
    (the slowest: transformers is imported), the folders `stage` reads models from and writes into are
    opened and checked (journeyforge/stage_folders.py); without a stage, only the model folders a user
    set explicitly.
    """
    try:
        OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None)
        raise ConfigError(f"{key + ': ' if key else ''}{_first_line(err)}") from None
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise ConfigError(f"{missing[0]} is not set (??? in the config): set {missing[0]}=...")
    check_run_name(cfg.get("name"))
    built: dict[str, Any] = {}
    for group in GROUPS:
        if group not in cfg or cfg[group] is None:
            continue
        try:
            made = _check(cfg, group, built)
        except ConfigError:
            raise
        except (ValueError, TypeError) as err:
            raise ConfigError(" ".join(str(err).split())) from None
        if made is not None:
            built[group] = made
    _check_task_choices(cfg, built.get("experiment"))
    _check_continuous(cfg)
    problem = stage_folders_problem(_stage_config(cfg, stage, built))
    if problem:
        raise ConfigError(problem)
    return built


# The groups whose options name the folders a stage reads models from or writes into.
FOLDER_GROUPS = ("search", "linearize", "export", "train", "eval", "experiment", "rl", "view", "prm")


def _stage_config(cfg: DictConfig, stage: str | None, built: dict[str, Any]) -> StageConfig:
    """What the folder checks read: the settings objects `validate_config` built (none built again)."""
    groups = {g: built[g] for g in FOLDER_GROUPS if g in built}
    policy = OmegaConf.to_container(cfg.policy, resolve=True) if "policy" in cfg and cfg.policy is not None else {}
    workdir = cfg.get("workdir")
    return StageConfig(stage, None if workdir is None else str(workdir), groups, dict(policy),
                       train_kinds(cfg) if "train" in cfg else [])


CONTINUOUS_BACKENDS = ("openai", "simulated", "vllm")   # those with `Policy.submit` (a test checks the classes agree)


def _check_continuous(cfg: DictConfig) -> None:
    """explore.continuous needs a backend that hands requests back one by one (`Policy.continuous`);
    the class is imported only when the option is on."""
    if "explore" not in cfg or not cfg.explore.get("continuous") or "policy" not in cfg:
        return
    from search.policies import BACKENDS, policy_class

    backend = cfg.policy.get("backend")
    if backend in BACKENDS and not policy_class(backend).continuous:
        raise ConfigError(f"explore.continuous=true needs a backend that takes requests continuously "
                          f"({', '.join(CONTINUOUS_BACKENDS)}); policy.backend={backend} answers whole waves: "
                          "drop explore.continuous")


def _check_task_choices(cfg: DictConfig, experiment: ExperimentSettings | None) -> None:
    """Every trajectory kind the config asks for (linearize.kinds, each selected experiment arm's kind)
    must be one the task declares it can serve (journeyforge/task_choices.py, read from the registries)."""
    if "task" not in cfg or cfg.task is None:
        return
    from journeyforge.task_choices import check_task_choices

    task = cfg.task.get("name")
    if "linearize" in cfg and cfg.linearize is not None:
        check_task_choices(task, cfg.linearize.get("kinds"), ConfigError)
    if experiment is not None:
        for arm in experiment.selected():
            check_task_choices(task, [experiment.arms[arm].kind], ConfigError, where=f"experiment.arms.{arm}.kind")
