"""A user's group choice always stands, whatever the task (issue 41): a task declares what it serves
(kinds through `TrajectoryKind.needs`, heuristics, prompt styles) and never sets another group's
values; a choice it cannot serve is one line naming both. Tasks come from the task registry, kinds
from the kinds registry, group options from the packaged conf/ folders: nothing here names them."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from journeyforge.overrides import CONF_DIR
from journeyforge.settings import ConfigError, validate_config
from journeyforge.task_choices import check_task_choices, kind_serves, supported_kinds
from search.policies.symbolic_settings import SymbolicSettings
from search.tasks import TASKS, make_task, task_classes
from traces.linearize import KINDS, TrajectoryKind

CONF = Path(CONF_DIR)
# The packaged tasks: those with a task file. Other test modules register tasks of their own into the
# same registry (tests/sum_task.py's `sum`), which have no config to compose.
TASK_NAMES = [name for name in TASKS if (CONF / "task" / f"{name}.yaml").exists()]
# Every group a user picks with `<group>=<option>` (task and experiment presets are global files).
GROUPS = sorted(p.name for p in CONF.iterdir() if p.is_dir() and p.name not in ("task", "experiment"))
OPTIONS = {group: sorted(p.stem for p in (CONF / group).glob("*.yaml")) for group in GROUPS}


def _compose(*overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        return compose(config_name="config", overrides=list(overrides))


def _rows(n: int) -> list[list[str]]:
    """Overrides that together choose every option of every group: row i picks option i of each group
    (wrapping), so a few composes cover them all."""
    return [[f"{g}={OPTIONS[g][i % len(OPTIONS[g])]}" for g in GROUPS] for i in range(n)]


ROWS = _rows(max(len(v) for v in OPTIONS.values()))


def test_the_groups_and_tasks_are_found():
    assert {"linearize", "search", "explore", "policy"} <= set(GROUPS) and "shortcut" in OPTIONS["linearize"]
    assert {"countdown", "math"} <= set(TASKS) and {"shortcut", "journey", "stream"} <= set(KINDS)


@pytest.mark.parametrize("path", sorted((CONF / "task").glob("*.yaml")), ids=lambda p: p.stem)
def test_a_task_file_sets_only_its_task_and_names_other_groups_by_override(path):
    """The convention: `task` (and the run's default `name`); another group only as an `override` of the
    defaults list, which the command line replaces."""
    data = yaml.safe_load(path.read_text())
    assert set(data) <= {"defaults", "task", "name"}, f"{path.name} sets {sorted(set(data) - {'defaults', 'task', 'name'})}"
    assert data["task"]["name"] == path.stem and path.stem in TASKS
    for entry in data["defaults"]:
        if isinstance(entry, dict):
            [(key, option)] = entry.items()
            assert key.startswith("override /"), f"{path.name}: {entry} is not an override"
            group = key.removeprefix("override /")
            assert (CONF / group / f"{option}.yaml").is_file(), f"{path.name}: no {group}/{option}.yaml"
        else:
            assert entry in ("_self_", f"/schema/task/{path.stem}@task"), f"{path.name}: {entry}"


@pytest.mark.parametrize("row", ROWS, ids=lambda r: ",".join(o.split("=")[1] for o in r))
def test_every_group_choice_composes_the_same_under_every_task(row):
    """No task file changes a group the user chose: each group's node is the same for every task."""
    nodes = {name: OmegaConf.to_container(_compose(f"task={name}", *row), resolve=False) for name in TASK_NAMES}
    first, *others = TASK_NAMES
    for name in others:
        for group in GROUPS:
            assert nodes[name][group] == nodes[first][group], f"task={name} changed {group} under {row}"
    for choice in row:  # and each chosen file's own values are in its node
        group, option = choice.split("=")
        data = yaml.safe_load((CONF / group / f"{option}.yaml").read_text()) or {}
        for key, value in data.items():
            if key != "defaults" and not (isinstance(value, str) and "${" in value):
                assert nodes[first][group][key] == value, f"{choice}: {key}"


@pytest.mark.parametrize("task", TASK_NAMES)
@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_stands_or_is_refused_in_one_line_naming_both(task, kind):
    cfg = _compose(f"task={task}", f"linearize.kinds=[{kind}]", "linearize.train_kinds=null")
    if kind_serves(kind, task_classes(task)[0]):
        validate_config(cfg)
        assert list(cfg.linearize.kinds) == [kind]
    else:
        for check in (validate_config, lambda c: check_task_choices(c.task.name, c.linearize.kinds, ConfigError)):
            with pytest.raises(ConfigError) as err:
                check(cfg)
            line = str(err.value)
            assert "\n" not in line and kind in line and repr(task) in line


@pytest.mark.parametrize("task", TASK_NAMES)
def test_every_linearize_preset_is_taken_as_chosen(task):
    """`journeyforge linearize task=<t> linearize=<preset>`: the preset's kinds, never the task's."""
    for option in OPTIONS["linearize"]:
        cfg = _compose(f"task={task}", f"linearize={option}")
        preset = _compose(f"linearize={option}").linearize
        assert list(cfg.linearize.kinds) == list(preset.kinds), option
        if set(cfg.linearize.kinds) <= set(supported_kinds(task)):
            validate_config(cfg)
        else:
            with pytest.raises(ConfigError, match=f"includes .*, which task '{task}' cannot"):
                validate_config(cfg)


@pytest.mark.parametrize("task", TASK_NAMES)
def test_each_prompt_style_the_task_declares_is_built(task):
    task_cls, _ = task_classes(task)
    assert task_cls.prompt_styles
    for style in task_cls.prompt_styles:
        cfg = _compose(f"task={task}", f"task.prompt_format={style}")
        validate_config(cfg)
        assert make_task(cfg.task).prompt_format == style
    with pytest.raises(ConfigError, match="task.prompt_format"):
        validate_config(_compose(f"task={task}", "task.prompt_format=no_such_style"))


@pytest.mark.parametrize("task", TASK_NAMES)
def test_the_symbolic_heuristic_comes_from_the_task(task):
    task_cls, _ = task_classes(task)
    if not task_cls.symbolic:
        with pytest.raises(ConfigError, match=f"policy.backend=symbolic .* task '{task}'"):
            validate_config(_compose(f"task={task}", "policy=symbolic"))
        return
    built = make_task(_compose(f"task={task}").task)
    cfg = _compose(f"task={task}", "policy=symbolic")
    validate_config(cfg)
    settings = SymbolicSettings(**{k: v for k, v in OmegaConf.to_container(cfg.policy, resolve=True).items()
                                   if k != "backend"})
    assert settings.heuristic_for(built) == (task_cls.heuristics[0] if task_cls.heuristics else None)
    for name in task_cls.heuristics:
        cfg = _compose(f"task={task}", "policy=symbolic", f"policy.heuristic={name}")
        validate_config(cfg)
        assert SymbolicSettings(heuristic=cfg.policy.heuristic).heuristic_for(built) == name
    with pytest.raises(ConfigError, match=f"policy.heuristic='no_such': task '{task}'"):
        validate_config(_compose(f"task={task}", "policy=symbolic", "policy.heuristic=no_such"))


@pytest.mark.parametrize("task", TASK_NAMES)
def test_every_task_runs_on_its_own_defaults(task):
    """A task's default choices (the `override`s of its file) are ones it serves."""
    cfg = _compose(f"task={task}")
    validate_config(cfg)
    assert set(cfg.linearize.kinds) <= set(supported_kinds(task))


def test_the_defaults_of_the_demo_and_of_math_are_unchanged():
    """`make demo` and `journeyforge run task=math` resolve the values they always ran with."""
    demo, math = _compose(), _compose("task=math")
    assert demo.name == "demo" and list(demo.linearize.kinds) == ["shortcut", "journey", "stream"]
    assert (demo.search.algorithm, demo.search.k, demo.search.max_expansions, demo.explore.max_tokens) == \
        ("mcts", 4, 16, 16)
    assert math.name == "math-demo" and list(math.linearize.kinds) == list(math.linearize.train_kinds) == \
        ["shortcut", "journey"]
    search = math.search
    assert (search.algorithm, search.k, search.max_expansions, search.max_depth, search.max_children, search.rollouts,
            search.rollout_max_tokens, math.explore.max_tokens) == ("mcts", 8, 3, 6, 24, 2, 80, 64)
    assert (math.task.select, math.task.n_train, math.task.n_test) == ("shortest", 20, 16)


def test_math_with_a_chosen_search_keeps_that_search():
    beam, default_beam = _compose("task=math", "search=beam").search, _compose("search=beam").search
    assert beam == default_beam and beam.max_expansions == 12 and beam.k == 4


def test_a_new_kind_names_its_need_and_the_tasks_without_it_refuse_it():
    """The registry is the one place: a kind that needs `symbolic` is refused by a task without it."""
    KINDS["needs_symbolic"] = TrajectoryKind("needs_symbolic", KINDS["shortcut"].linearize, KINDS["shortcut"].config,
                                             "test kind", needs="symbolic")
    try:
        for task in TASK_NAMES:
            cfg = _compose(f"task={task}", "linearize.kinds=[needs_symbolic]", "linearize.train_kinds=null")
            if task_classes(task)[0].symbolic:
                check_task_choices(task, cfg.linearize.kinds)
                assert "needs_symbolic" in supported_kinds(task)
            else:
                with pytest.raises(ValueError, match=f"needs_symbolic, which task '{task}' cannot serve"):
                    check_task_choices(task, cfg.linearize.kinds)
        with pytest.raises(ValueError, match=r"^experiment.arms.s.kind includes stream, which task 'math'"):
            check_task_choices("math", ["base", "rl", "stream"], where="experiment.arms.s.kind")
    finally:
        del KINDS["needs_symbolic"]


def test_the_command_line_shows_the_users_kind():
    """The issue's check: `journeyforge linearize task=math linearize=shortcut --cfg job`."""
    done = subprocess.run([sys.executable, "-m", "journeyforge.cli", "linearize", "task=math", "linearize=shortcut",
                           "--cfg", "job"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load(done.stdout)["linearize"]["kinds"] == ["shortcut"]


@pytest.mark.parametrize("task", TASK_NAMES)
def test_an_experiment_arm_of_a_kind_the_task_cannot_serve_is_one_line(task):
    refused = [kind for kind in KINDS if not kind_serves(kind, task_classes(task)[0])]
    if not refused:
        pytest.skip(f"task {task} serves every registered kind")
    cfg = _compose(f"task={task}", f"+experiment.arms.extra={{kind: {refused[0]}}}")
    with pytest.raises(ConfigError) as err:
        validate_config(cfg)
    line = str(err.value)
    assert "\n" not in line and "experiment.arms.extra.kind" in line and repr(task) in line
    # Left out of the selection, the arm is not this job's choice and the config stands.
    cfg = _compose(f"task={task}", f"+experiment.arms.extra={{kind: {refused[0]}}}", "experiment.select=[base]")
    validate_config(cfg)


def test_a_preset_written_for_another_task_names_the_option_it_sets():
    from journeyforge.overrides import check_overrides

    line = check_overrides(["task=math", "experiment=cpu_lab"])
    assert line is not None and "\n" not in line
    assert "experiment/cpu_lab.yaml" in line and "task.n_numbers" in line
