"""Step rows from a policy's own sampled answers, labelled by where they ended (`prm.data=samples`).

Math-Shepherd (Wang et al. 2024) labels a step by completing it several times with the policy: the
step is good when some completion reaches the right answer (the hard estimate), and the share that do
is its soft value. Here the completions are the k answers sampled for each training problem: a step
prefix shared by several of them gets the verdicts of all the answers that pass through it. No tree and
no step checker is involved, only the final answers' verifier; that matters where the policy's written
steps do not carry its answer: the CPU laboratory's student writes `25 + 20 = 40` and then the right
`(25 + 20) + 9`, so the task's exact step oracle calls most of its right answers' steps mistakes
(docs/results/prm-own-samples).

The rows are TRL's stepwise format as `journeyforge prm` reads it, made the way eval splits an answer
into the steps it scores (training/scaling.py `score_samples`): the reasoning's steps, then the final
answer line, so that the scorer is trained on what it will judge.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from search.tasks.base import Problem, Task


def answer_steps(task: Task, prediction: str) -> list[str]:
    """The steps of one answer as eval's scorer reads them: the reasoning's steps, then the final
    answer line (training/scaling.py `score_samples`)."""
    steps, tail = task.completion_steps(prediction)
    return [task.quote(x) for x in steps] + ([task.quote(tail)] if tail else [])


def sampled_step_rows(task: Task, problems: Mapping[int, Problem], samples: Sequence[Mapping[str, Any]]
                      ) -> list[dict[str, Any]]:
    """One stepwise row per distinct sampled answer (`{problem_id, prediction, is_correct}` each, is_correct
    the final answer's verdict): `labels[i]` is whether any answer of the same problem whose first i+1
    steps are these was right, `values[i]` the share that were. Answers with no step are left out."""
    by_problem: dict[int, list[tuple[tuple[str, ...], bool]]] = {}
    for s in samples:
        steps = tuple(answer_steps(task, s["prediction"]))
        if steps:
            by_problem.setdefault(s["problem_id"], []).append((steps, bool(s["is_correct"])))
    rows = []
    for problem_id, paths in by_problem.items():
        through: dict[tuple[str, ...], list[int]] = {}   # prefix -> [right answers, answers] through it
        for steps, right in paths:
            for i in range(1, len(steps) + 1):
                counts = through.setdefault(steps[:i], [0, 0])
                counts[0] += right
                counts[1] += 1
        problem = problems[problem_id]
        seen = set()
        for steps, _ in paths:
            if steps in seen:
                continue
            seen.add(steps)
            prefixes = [through[steps[:i]] for i in range(1, len(steps) + 1)]
            rows.append({"prompt": task.question(problem), "completions": list(steps),
                         "labels": [right > 0 for right, _ in prefixes],
                         "values": [right / total for right, total in prefixes],
                         "problem": problem.key})
    return rows


__all__ = ["answer_steps", "sampled_step_rows"]
