"""Task registry: `TASKS[name] = "module:TaskClass:ConfigClass"`, and `make_task(cfg)` to build one.

Entries are import paths so that this module imports no task (and no task imports it back): a task
package is loaded when it is first asked for.
"""
from __future__ import annotations

import dataclasses
import importlib
import typing
from typing import Any, Mapping

from search.tasks.base import Problem, StepResult, Task

TASKS: dict[str, str] = {
    "countdown": "search.tasks.countdown.task:CountdownTask:search.tasks.countdown.settings:CountdownConfig",
    "gym": "search.tasks.gym.task:GymTask:search.tasks.gym.settings:GymConfig",
    "math": "search.tasks.math.task:MathTask:search.tasks.math.settings:MathConfig",
    "sudoku": "search.tasks.sudoku.task:SudokuTask:search.tasks.sudoku.settings:SudokuConfig",
    "maze": "search.tasks.maze.task:MazeTask:search.tasks.maze.settings:MazeConfig",
}

__all__ = ["TASKS", "make_task", "task_classes", "Task", "Problem", "StepResult"]


def task_classes(name: str) -> tuple[type[Task], type]:
    """(TaskClass, ConfigClass) of a registered task."""
    if name not in TASKS:
        raise ValueError(f"task.name must be one of {sorted(TASKS)}, got {name!r}")
    task_mod, task_cls, cfg_mod, cfg_cls = TASKS[name].split(":")
    return (getattr(importlib.import_module(task_mod), task_cls),
            getattr(importlib.import_module(cfg_mod), cfg_cls))


def _type_ok(value: Any, hint: Any) -> bool:
    if hint is typing.Any:
        return True
    args = typing.get_args(hint)
    if args and type(None) in args:  # Optional[X] / X | None
        return value is None or any(_type_ok(value, a) for a in args if a is not type(None))
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    origin = typing.get_origin(hint)
    if origin is not None:
        return isinstance(value, origin)
    return isinstance(value, hint) if isinstance(hint, type) else True


def make_task(cfg: Mapping[str, Any] | Any) -> Task:
    """Build the task named by `cfg["name"]` from a dict or OmegaConf DictConfig.

    Unknown keys and values of the wrong type raise ValueError naming the option (`task.<key>`).
    """
    if not isinstance(cfg, dict):   # a DictConfig is a Mapping too, whose nested nodes stay DictConfigs
        from omegaconf import DictConfig, OmegaConf

        if not isinstance(cfg, (DictConfig, Mapping)):
            raise TypeError(f"task config must be a dict or DictConfig, got {type(cfg).__name__}")
        cfg = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    values = dict(cfg)
    task_cls, config_cls = task_classes(values.get("name"))
    hints = typing.get_type_hints(config_cls)
    known = {f.name for f in dataclasses.fields(config_cls)}
    for key, value in values.items():
        if key not in known:
            raise ValueError(f"unknown option task.{key} for task {values['name']!r}; known options: {sorted(known)}")
        if not _type_ok(value, hints[key]):
            raise ValueError(f"task.{key} must be {hints[key]}, got {value!r}")
    return task_cls(config_cls(**values))
