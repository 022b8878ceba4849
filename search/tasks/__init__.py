"""Task registry: `TASKS[name] = (TaskClass, ConfigClass)`, and `make_task(cfg)` to build one."""
from __future__ import annotations

import dataclasses
import typing
from typing import Any, Mapping

from search.tasks.base import Problem, StepResult, Task
from search.tasks.countdown import CountdownConfig, CountdownTask

TASKS: dict[str, tuple[type[Task], type]] = {"countdown": (CountdownTask, CountdownConfig)}

__all__ = ["TASKS", "make_task", "Task", "Problem", "StepResult", "CountdownTask", "CountdownConfig"]


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
    return isinstance(value, hint) if isinstance(hint, type) else True


def make_task(cfg: Mapping[str, Any] | Any) -> Task:
    """Build the task named by `cfg["name"]` from a dict or OmegaConf DictConfig.

    Unknown keys and values of the wrong type raise ValueError naming the option (`task.<key>`).
    """
    if not isinstance(cfg, Mapping):
        from omegaconf import DictConfig, OmegaConf

        if not isinstance(cfg, DictConfig):
            raise TypeError(f"task config must be a dict or DictConfig, got {type(cfg).__name__}")
        cfg = OmegaConf.to_container(cfg, resolve=True)
    values = dict(cfg)
    name = values.get("name")
    if name not in TASKS:
        raise ValueError(f"task.name must be one of {sorted(TASKS)}, got {name!r}")
    task_cls, config_cls = TASKS[name]
    hints = typing.get_type_hints(config_cls)
    known = {f.name for f in dataclasses.fields(config_cls)}
    for key, value in values.items():
        if key not in known:
            raise ValueError(f"unknown option task.{key} for task {name!r}; known options: {sorted(known)}")
        if not _type_ok(value, hints[key]):
            raise ValueError(f"task.{key} must be {hints[key]}, got {value!r}")
    return task_cls(config_cls(**values))
