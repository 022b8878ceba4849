"""Options of the `symbolic` backend (search/policies/symbolic.py): the task's legal steps, no model."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from search.policies.backend_settings import AT_LEAST_1, BackendSettings, Checks, Ranges

HEURISTIC_CHOICES = ("mixed", "default")
"""Besides the task's own heuristics: `mixed` draws one of them per tree (Stream of Search mixed its sum
and multiply heuristics across problems), and `default` is the task's first (its declared default)."""


@dataclass
class SymbolicSettings(BackendSettings):
    """Each expansion is the legal steps of the request's state (a task with `symbolic`), as Stream of
    Search's data generator."""

    k: int | None = None
    """Keep the k best steps by the heuristic (a seeded sample of k without one); null: every legal step."""
    heuristic: str | None = "default"
    """One of the task's heuristics (best first), `default` (the first the task declares), `mixed`
    (one of them per tree) or null (the task's order)."""
    max_heuristic: float | None = None
    """Drop steps whose heuristic is above this (Stream of Search's DFS threshold); null: keep them."""
    seed: int = 0
    """Seed of the `mixed` draw and of the sample of k steps."""

    checks: ClassVar[Checks] = {"k": AT_LEAST_1}
    # No task has more than a few hundred legal steps from one state (Countdown with 6 numbers: 60).
    ranges: ClassVar[Ranges] = {"k": (1, 1_024, " steps")}

    def check_task(self, task: Any) -> None:
        """ValueError unless `task` can enumerate its steps and knows `heuristic`."""
        if not task.symbolic:
            raise ValueError(f"policy.backend=symbolic needs a task that can enumerate its legal steps; task "
                             f"{task.name!r} cannot (use a model backend: hf, vllm or openai)")
        heuristic, known = self.heuristic, (*task.heuristics, *HEURISTIC_CHOICES)
        if heuristic is not None and heuristic not in known:
            raise ValueError(f"policy.heuristic={heuristic!r}: task {task.name!r} has "
                             f"{', '.join(known) or 'no heuristics'} (or null)")

    def heuristic_for(self, task: Any) -> str | None:
        """The heuristic name the policy uses on `task`: `default` is the task's first (None when it
        declares none: the task's order); any other value as it is."""
        if self.heuristic == "default":
            return task.heuristics[0] if task.heuristics else None
        return self.heuristic
