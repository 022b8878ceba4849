"""RunParts (journeyforge/stages/run_parts.py): a run config's settings as objects, and copies of them with
changed fields whose config (what `runs.config` records, what the stages read) says the same."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from journeyforge.cli import CONF_DIR
from journeyforge.settings import ConfigError, settings
from journeyforge.stages import evolve
from journeyforge.stages.run_parts import GROUPS, RunParts
from search.tasks import TASKS


def _cfg(tmp_path: Path, *overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        return compose(config_name="config", overrides=[f"workdir={tmp_path / 'out'}", *overrides])


# The packaged tasks (those with a task file; other test modules register tasks with no config to compose).
PACKAGED = [name for name in TASKS if (Path(CONF_DIR) / "task" / f"{name}.yaml").exists()]


@pytest.mark.parametrize("task", PACKAGED)
def test_a_copy_with_every_group_given_back_records_the_config_it_came_from(tmp_path, task):
    cfg = _cfg(tmp_path, f"task={task}")
    parts = RunParts.of(cfg, validate=False)
    every = {g: getattr(parts, g) for g in (*GROUPS, "task", "policy") if getattr(parts, g) is not None}
    assert OmegaConf.to_container(parts.changed(**every).cfg, resolve=True) == OmegaConf.to_container(cfg, resolve=True)


def test_a_rounds_parts_are_copies_and_its_config_says_what_its_objects_say(tmp_path):
    cfg = _cfg(tmp_path, "name=evo", "policy=scripted", "train=scratch", "linearize=shortcut", "search=dfs")
    parts = RunParts.of(cfg)
    ev = evolve.evolve_settings(cfg)
    model = tmp_path / "student"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "journeyforge_sft.json").write_text('{"settings": {"format": "prompt_completion"}}')
    rp = evolve.round_parts(parts, ev, 1, model, None)
    root = Path(ev.dir) / "round-1"
    assert (rp.name, rp.export.dir, rp.train.dir, rp.rl.dir, rp.rl.init, rp.prm.dir) == (
        "evo/round-1", str(root / "datasets"), str(root / "models"), str(root / "models"), "shortcut", str(root / "prm"))
    assert (rp.eval.include_base, rp.search) == (False, parts.search)
    assert (rp.policy["backend"], rp.policy["model"], rp.task["prompt_format"]) == ("hf", str(model), "question")
    # The evolve run's own settings are untouched: the round got copies.
    assert (parts.name, parts.export.dir, parts.policy["backend"], parts.eval.include_base) == (
        "evo", cfg.export.dir, "scripted", cfg.eval.include_base)
    # What the round's runs record (and the prm stage, which takes a config, reads) is what its objects hold.
    for group, cls in GROUPS.items():
        assert settings(cls, rp.cfg[group], group) == getattr(rp, group), group
    assert OmegaConf.to_container(rp.cfg.policy) == rp.policy and OmegaConf.to_container(rp.cfg.task) == rp.task
    assert rp.cfg.name == rp.name and dataclasses.replace(rp) == rp


def test_a_rounds_step_scorer_is_checked_as_the_search_group_is(tmp_path):
    cfg = _cfg(tmp_path, "name=evo", "policy=scripted", "train=scratch", "linearize=shortcut", "search=dfs")
    scorer = tmp_path / "prm"
    scorer.mkdir()
    with pytest.raises(ConfigError, match=f"^search.prm={scorer}: no step scorer there"):
        evolve.round_parts(RunParts.of(cfg), evolve.evolve_settings(cfg), 1, None, scorer)


def _count_constructions(monkeypatch, classes) -> dict[str, int]:
    """Wrap each class's __init__ so that every object made of it (by `settings`, a copy, anything) is counted."""
    made: dict[str, int] = {}
    for cls in classes:
        def counted(self, *args, __init=cls.__init__, __name=cls.__name__, **kwargs):
            made[__name] = made.get(__name, 0) + 1
            __init(self, *args, **kwargs)
        monkeypatch.setattr(cls, "__init__", counted)
    return made


def test_one_explore_run_builds_each_settings_class_once(tmp_path, monkeypatch):
    from journeyforge.settings import SCHEMAS
    from journeyforge.stages import explore

    cfg = _cfg(tmp_path, f"store.url=sqlite:///{tmp_path / 'traces.db'}", "policy=scripted", "task.n_train=2",
               "task.n_test=0", "explore.progress=false")
    made = _count_constructions(monkeypatch, SCHEMAS.values())
    explore.run(cfg)
    expected = {cls.__name__ for group, cls in SCHEMAS.items() if cfg.get(group) is not None}
    assert made == {name: 1 for name in expected}
