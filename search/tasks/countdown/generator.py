"""Seeded Countdown problem generation with a held-out-by-target test split."""
from __future__ import annotations

import hashlib
import random
from typing import TYPE_CHECKING

from search.tasks.base import Problem
from search.tasks.countdown.solver import render_solution, solution_steps

if TYPE_CHECKING:
    from search.tasks.countdown.settings import CountdownConfig


def problem_key(nums: list[int], target: int) -> str:
    """The natural key of a problem: sorted numbers and target, e.g. `3,5,7->22`."""
    return ",".join(str(n) for n in sorted(nums)) + f"->{target}"


def is_held_out_target(target: int, test_fraction: float) -> bool:
    """Whether `target` belongs to the test split.

    A hash of the target alone decides, not the generator seed: problems generated with any seed,
    or read from any file, agree on which targets are held out, so training data never contains a
    test target. Raising `test_fraction` only adds targets (the test set at 0.1 is inside 0.2's).
    """
    digest = hashlib.sha256(f"countdown-target:{target}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < test_fraction


def split_of_target(target: int, test_fraction: float) -> str:
    """`"test"` for held-out targets, `"train"` otherwise."""
    return "test" if is_held_out_target(target, test_fraction) else "train"


def make_problem(nums: list[int], target: int, split: str, dataset: str, extra: dict | None = None) -> Problem:
    """A Problem with its key and (when solvable) one gold solution as `answer`."""
    steps = solution_steps(nums, target)
    answer = render_solution(nums, steps) if steps is not None else None
    payload = {"nums": list(nums), "target": target, **(extra or {})}
    return Problem(key=problem_key(nums, target), payload=payload, answer=answer, split=split, dataset=dataset)


def generate_problems(cfg: "CountdownConfig") -> list[Problem]:
    """`cfg.n_train` train then `cfg.n_test` test problems, distinct, seeded by `cfg.seed`.

    Numbers are drawn uniformly (with repetition) from [min_number, max_number] and the target
    uniformly from the split's targets in [min_target, max_target]; with `only_solvable` a draw the
    exact solver cannot solve is redrawn.
    """
    rng = random.Random(cfg.seed)
    targets = range(cfg.min_target, cfg.max_target + 1)
    pools = {
        "train": [t for t in targets if not is_held_out_target(t, cfg.test_fraction)],
        "test": [t for t in targets if is_held_out_target(t, cfg.test_fraction)],
    }
    problems: list[Problem] = []
    for split, wanted in (("train", cfg.n_train), ("test", cfg.n_test)):
        if wanted <= 0:
            continue
        pool = pools[split]
        if not pool:
            raise ValueError(
                f"no {split} targets in task.min_target..task.max_target = {cfg.min_target}..{cfg.max_target} "
                f"with task.test_fraction={cfg.test_fraction}: widen the target range or change test_fraction"
            )
        seen: set[str] = set()
        attempts, max_attempts = 0, 1000 + 500 * wanted
        while len(seen) < wanted:
            attempts += 1
            if attempts > max_attempts:
                raise ValueError(
                    f"generated only {len(seen)} of task.n_{split}={wanted} distinct "
                    f"{'solvable ' if cfg.only_solvable else ''}problems in {max_attempts} draws: widen "
                    f"task.min_number..max_number or task.min_target..max_target, or lower task.n_{split}"
                )
            nums = [rng.randint(cfg.min_number, cfg.max_number) for _ in range(cfg.n_numbers)]
            target = rng.choice(pool)
            key = problem_key(nums, target)
            if key in seen:
                continue
            problem = make_problem(nums, target, split, cfg.dataset)
            if cfg.only_solvable and problem.answer is None:
                continue
            seen.add(key)
            problems.append(problem)
    return problems
