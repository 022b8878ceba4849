"""A user's group choices against what the chosen task declares it serves.

A task never sets another group's values (issue 41): its Task class declares capabilities
(search/tasks/base.py: `stream_grammar`, `symbolic`, `heuristics`, `prompt_styles`), each trajectory
kind names the capability it needs (traces/linearize.py `TrajectoryKind.needs`), and a choice the
task cannot serve ends in one line naming the choice and the task. The symbolic policy's heuristic
and the prompt style are checked where they are built (SymbolicSettings.check_task, the task's config);
the kinds are checked here, from the registries, so a new kind or task needs no edit in this module.
"""
from __future__ import annotations

from collections.abc import Iterable

from search.tasks import TASKS, task_classes
from traces.linearize import KINDS


def kind_serves(kind: str, task_cls: type) -> bool:
    """Whether `task_cls` declares the capability the trajectory kind `kind` needs."""
    needs = KINDS[kind].needs
    return not needs or bool(getattr(task_cls, needs, False))


def supported_kinds(task_name: str) -> list[str]:
    """The registered trajectory kinds the task `task_name` can be linearized into, in registry order."""
    task_cls, _ = task_classes(task_name)
    return [kind for kind in KINDS if kind_serves(kind, task_cls)]


def check_task_choices(task_name: str | None, kinds: Iterable[str] | None, error: type[Exception] = ValueError,
                       where: str = "linearize.kinds") -> None:
    """`error` (one line; journeyforge/settings.py passes its ConfigError) when `kinds` (the option `where`
    names: linearize.kinds, or an experiment arm's kind) holds a kind the task `task_name` cannot serve;
    names that are no trajectory kind (an arm's `base`, `rl`) and an unregistered task are left to
    their own checks."""
    if task_name not in TASKS:
        return  # an unknown task is the task group's own error
    task_cls, _ = task_classes(task_name)
    for kind in list(kinds or []):
        if kind in KINDS and not kind_serves(kind, task_cls):
            able = [other for other in TASKS if kind_serves(kind, task_classes(other)[0])]
            served = ",".join(supported_kinds(task_name))
            fix = (f"use linearize.kinds=[{served}]" if where == "linearize.kinds" else
                   f"give it a kind the task serves ({served}) or leave the arm out of experiment.select")
            raise error(f"{where} includes {kind}, which task {task_name!r} cannot serve ({kind} needs a task "
                        f"with {KINDS[kind].needs}: {', '.join(able) or 'none registered'}): {fix}")
