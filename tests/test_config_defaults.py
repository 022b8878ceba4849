"""Defaults live in one place: the settings dataclasses. The YAML files in journeyforge/conf/ extend
them and carry only overrides; every field is documented; the configs ship inside the package."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from journeyforge.cli import CONF_DIR
from journeyforge.components import eval_settings, explore_settings, train_kinds
from journeyforge.settings import SCHEMAS, task_config_classes
from search.algorithms import SearchSettings
from search.explorer import ExploreSettings
from tests.option_docs import field_help
from traces.journey import JourneyConfig
from traces.llm_reflection import RewriteConfig
from traces.shortcut import ShortcutConfig
from training.eval_settings import EvalSettings
from training.sft_settings import SFTSettings, TrainSettings

REPO = Path(__file__).resolve().parent.parent
CONF = Path(CONF_DIR)
# A file says what it is: `search/beam.yaml` sets `algorithm: beam` and `task/countdown.yaml`
# `name: countdown` even where that equals the dataclass default.
IDENTITY_KEYS = {("search", "algorithm"), ("task", "name")}


def _compose(overrides: list[str] | None = None):
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        return compose(config_name="config", overrides=overrides or [])


def _schema_of(path: Path) -> dict[str, type]:
    """{yaml section: dataclass} for one config file, from its `schema/...` defaults entries."""
    schemas = {**{f"schema/{g}": cls for g, cls in SCHEMAS.items()},
               **{f"schema/task/{n}": cls for n, cls in task_config_classes().items()}}
    found = {}
    for entry in yaml.safe_load(path.read_text()).get("defaults", []):
        if isinstance(entry, str) and entry.lstrip("/").startswith("schema/"):
            name, _, package = entry.lstrip("/").partition("@")
            found["" if package == "_here_" else package] = schemas[name]
    return found


def _equal_to_defaults(values: dict, cls: type, group: str, prefix: str = "") -> list[str]:
    defaults = OmegaConf.to_container(OmegaConf.structured(cls))
    same = []
    for key, value in values.items():
        if key == "defaults" or (group, key) in IDENTITY_KEYS or key not in defaults:
            continue
        sub = {f.name: f.type for f in dataclasses.fields(cls)}.get(key)
        nested = next((f.default_factory for f in dataclasses.fields(cls) if f.name == key
                       and dataclasses.is_dataclass(f.default_factory)), None)
        if isinstance(value, dict) and nested is not None:
            same += _equal_to_defaults(value, nested, group, f"{prefix}{key}.")
        elif value == defaults[key] and sub is not None:
            same.append(f"{prefix}{key}: {value!r}")
    return same


YAML_FILES = sorted(CONF.rglob("*.yaml"))


def test_every_group_of_a_settings_dataclass_extends_its_schema():
    for group in ("search", "linearize", "export", "train", "eval"):
        for path in sorted((CONF / group).glob("*.yaml")):
            assert "" in _schema_of(path), f"{path.relative_to(CONF)} does not extend its schema/ config"
    # Task files are global (they may carry their domain's budget) and extend their schema at `task`.
    for path in sorted((CONF / "task").glob("*.yaml")):
        assert path.read_text().startswith("# @package _global_"), path.name
        assert "task" in _schema_of(path), f"{path.relative_to(CONF)} does not extend its schema/ config"
    assert "explore" in _schema_of(CONF / "config.yaml")


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(CONF)))
def test_yaml_carries_no_value_equal_to_the_dataclass_default(path):
    data = yaml.safe_load(path.read_text()) or {}
    group = path.parent.name if path.parent != CONF else ""
    same = []
    for package, cls in _schema_of(path).items():
        section = data if package == "" else data.get(package, {})
        same += _equal_to_defaults(section, cls, group or package)
    if path.name == "config.yaml":  # sections of group nodes set in the primary config
        for package in ("linearize",):
            same += _equal_to_defaults(data.get(package, {}), SCHEMAS[package], package)
    if group == "task":  # a global task file's budget sections
        for package, section in data.items():
            if package in SCHEMAS and package != "task":
                same += _equal_to_defaults(section, SCHEMAS[package], package)
    assert not same, f"{path.relative_to(CONF)} repeats dataclass defaults: {same}"


def test_composed_demo_config_is_the_measured_configuration():
    """Moving the defaults changed nothing the demo runs with (the values its README numbers used)."""
    cfg = _compose()
    explore = explore_settings(cfg)
    assert (explore.max_active_trees, explore.max_tokens, explore.temperature, explore.top_p,
            explore.lease_seconds) == (64, 16, 0.8, 1.0, 120.0)
    assert SearchSettings(**OmegaConf.to_container(cfg.search, resolve=True)) == SearchSettings()
    assert (cfg.search.algorithm, cfg.search.k, cfg.search.max_expansions, cfg.search.max_children) == ("mcts", 4, 16, 16)
    assert cfg.train.max_steps == 20 and cfg.train.learning_rate == 5e-4 and cfg.train.lora_r == 16
    assert train_kinds(cfg) == ["shortcut", "journey"]
    assert eval_settings(cfg) == EvalSettings(seed=cfg.seed)
    assert (cfg.eval.n_problems, cfg.eval.max_tokens, cfg.eval.temperature) == (32, 160, 0.8)
    assert list(cfg.linearize.kinds) == ["shortcut", "journey", "stream"] and cfg.linearize.matched
    # The pipeline's journey recipe (mixed counts, checks: issue 15's study), over the linearizer's defaults.
    assert JourneyConfig(**OmegaConf.to_container(cfg.linearize.journey, resolve=True)) == \
        JourneyConfig(backtracks=[1.0, 1.0, 1.0], checks=0.5)
    assert cfg.export.test_fraction == 0.2 and cfg.task.n_numbers == 3 and cfg.task.max_target == 50


def test_the_recipes_preset_is_the_cpu_study_with_issue_15s_arms():
    """`experiment=cpu_recipes` reads the `cpu` study's trees (same name, no explore) and adds arms
    that differ from journey_mixed in one thing each: no checks, or which spans the loss skips."""
    from journeyforge.stages.experiment_models import experiment_settings

    cpu, recipes = _compose(["experiment=cpu"]), _compose(["experiment=cpu_recipes"])
    exp = experiment_settings(recipes)
    assert recipes.name == cpu.name and recipes.task == cpu.task and not exp.explore
    assert set(exp.selected()) == {"base", "shortcut", "journey_mixed", "mixed_nochecks", "mixed_masked",
                                   "mixed_masked_all"}
    mixed = exp.arms["journey_mixed"]
    assert exp.arms["mixed_nochecks"].linearize == {**mixed.linearize, "checks": 0.0}
    assert exp.arms["mixed_masked"].linearize == exp.arms["mixed_masked_all"].linearize == mixed.linearize
    assert exp.arms["mixed_masked"].train == {"mask_mistakes": True}
    assert exp.arms["mixed_masked_all"].train == {"mask_mistakes": True, "mask_reflections": True}


@pytest.mark.parametrize("overrides,kinds", [
    (["linearize=shortcut"], ["shortcut"]),
    (["linearize=journey"], ["journey"]),
    (["linearize=matched", "linearize.train_kinds=null"], ["shortcut", "journey", "stream"]),
    (["train.kinds=[journey]"], ["journey"]),
])
def test_train_kinds_default_to_the_linearized_kinds(overrides, kinds):
    assert train_kinds(_compose(overrides)) == kinds


@pytest.mark.parametrize("path", sorted((CONF / "search").glob("*.yaml")), ids=lambda p: p.stem)
def test_algorithm_files_override_only_what_they_change(path):
    """Every file of the `search` group (read from the folder, never a list here): the composed group
    holds the file's values and the dataclass defaults for every other option; its algorithm is one
    of the registry's."""
    from search.algorithms import ALGORITHMS

    expected = {k: v for k, v in yaml.safe_load(path.read_text()).items() if k != "defaults"}
    assert expected["algorithm"] in ALGORITHMS, path.name
    search = _compose([f"search={path.stem}"]).search
    for key, value in expected.items():
        assert search[key] == value, key
    untouched = {f.name for f in dataclasses.fields(SearchSettings)} - set(expected) - {"label_values"}
    for key in untouched:
        assert search[key] == getattr(SearchSettings(), key), key


DOCUMENTED = [*SCHEMAS.values(), *task_config_classes().values(), SFTSettings, TrainSettings, EvalSettings,
              ExploreSettings, SearchSettings, JourneyConfig, ShortcutConfig, RewriteConfig]


@pytest.mark.parametrize("cls", DOCUMENTED, ids=lambda c: c.__name__)
def test_every_settings_field_has_help(cls):
    docs = field_help(cls)
    missing = [f.name for f in dataclasses.fields(cls) if not docs.get(f.name, "").strip()]
    assert not missing, f"{cls.__name__} fields without help: {missing}"


def test_countdown_limits_are_in_the_field_help():
    help_ = field_help(task_config_classes()["countdown"])
    assert "2..6" in help_["n_numbers"]
    assert "1,000,000" in help_["max_number"] and "1,000,000" in help_["max_target"]


def test_configs_ship_inside_the_package():
    package = REPO / "journeyforge"
    assert CONF.parent == package and (CONF / "config.yaml").is_file()
    assert not (REPO / "conf").exists(), "the configs moved to journeyforge/conf/"
    globs = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["journeyforge"]
    shipped = {p for g in globs for p in package.glob(g)}
    assert set(YAML_FILES) <= shipped, sorted(str(p) for p in set(YAML_FILES) - shipped)


def test_cli_prints_the_config_outside_a_checkout(tmp_path):
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "journeyforge.cli", "explore", "--cfg", "job"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    printed = yaml.safe_load(done.stdout)
    assert printed["explore"]["max_tokens"] == 16 and printed["search"]["max_expansions"] == 16
    assert printed["train"]["max_steps"] == 20
