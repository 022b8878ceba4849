"""The `symbolic` backend: a node's children are the task's legal steps, no model involved.

Stream of Search (Gandhi et al. 2024) built its training streams this way: a symbolic BFS or DFS
over a puzzle's legal operations, ordered by a heuristic. Here the search is the usual explorer
and algorithm; this backend only answers each request with the legal steps of the request's state
(`request.meta["state"]`, which the explorer sends with every request), rendered as the step text
the task's own parser reads back, so the tree is labelled and stored exactly like a model's.
"""
from __future__ import annotations

import random
import time
import zlib
from typing import Any

from search.policies.backend_settings import settings_from
from search.policies.base import Completion, GenerationRequest, Policy
from search.policies.symbolic_settings import SymbolicSettings
from search.tasks.base import Task


class SymbolicPolicy(Policy):
    """Completions are the legal steps of each request's state.

    With a `heuristic`, steps come best first (lowest heuristic of the state they lead to) and each
    completion's `logprob` is the negated heuristic, so that "higher is better" holds for this
    backend as for a model's log-probabilities (`search.best_first` orders by it); `k` then keeps
    the k best (Stream of Search's BFS keeps `beam_size` children per node) and `max_heuristic`
    drops steps scored above it (its DFS `threshold`). Without one, steps come in the task's order
    with logprob 0, and `k` keeps a sample of k seeded by the request's seed. A request's `n` is
    ignored: an expansion returns what is legal, possibly nothing.
    """

    name = "symbolic"

    def __init__(self, task: Task, *args: Any, **options: Any) -> None:
        """Expand `task`'s states with the options of `SymbolicSettings(*args, **options)` (or of one
        settings object)."""
        super().__init__()
        self.settings = s = settings_from(SymbolicSettings, args, options)
        s.check_task(task)
        self.task = task
        self.k = s.k
        self.heuristic = s.heuristic_for(task)
        self.max_heuristic = s.max_heuristic
        self.seed = s.seed

    def _heuristic_of(self, req: GenerationRequest) -> str | None:
        if self.heuristic != "mixed":
            return self.heuristic
        # One heuristic per tree, from the problem's key (stable across waves, processes, resumes).
        problem = req.meta.get("problem")
        key = getattr(problem, "key", "") if problem is not None else ""
        names = self.task.heuristics
        return names[zlib.crc32(f"{self.seed}|{key}".encode()) % len(names)]

    def generate(self, requests: list[GenerationRequest]) -> list[list[Completion]]:
        """The legal steps of each request's state, in request order."""
        start = time.perf_counter()
        out: list[list[Completion]] = []
        task = self.task
        sequences = 0
        for i, req in enumerate(requests):
            state = req.meta.get("state")
            if state is None:
                raise ValueError(f"request {i}: the symbolic policy needs request.meta['state'] (the task state)")
            steps = task.legal_steps(state, req.meta.get("problem"))
            name = self._heuristic_of(req)
            if name is None:
                if self.k is not None and len(steps) > self.k:
                    rng = random.Random(f"{self.seed}|{req.seed}")
                    keep = sorted(rng.sample(range(len(steps)), self.k))
                    steps = [steps[j] for j in keep]
                completions = [Completion(text, [], 0.0, "stop") for text, _ in steps]
            else:
                scored = sorted(((task.heuristic(after, name), j, text) for j, (text, after) in enumerate(steps)))
                if self.max_heuristic is not None:
                    scored = [s for s in scored if s[0] <= self.max_heuristic]
                if self.k is not None:
                    scored = scored[: self.k]
                completions = [Completion(text, [], -h, "stop") for h, _, text in scored]
            sequences += len(completions)
            out.append(completions)
        self.stats.calls += 1
        self.stats.requests += len(requests)
        self.stats.sequences += sequences
        self.stats.seconds += time.perf_counter() - start
        return out
