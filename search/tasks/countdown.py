"""The Countdown task (Stream of Search, Gandhi et al. 2024; TinyZero rules).

A multiset of numbers and a target; a step combines two remaining numbers with + - * / into a
positive integer; every number is used exactly once; solved when the last number equals the
target. The state is JSON: `{"nums": [...], "exprs": [...], "target": t}` with one expression
per remaining number, so the final answer is the last state's only expression.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from typing import Any

from search.tasks import countdown_prompts as prompts
from search.tasks.arithmetic import uses_exactly
from search.tasks.base import Problem, StepResult, Task
from search.tasks.countdown_generator import generate_problems, make_problem, split_of_target
from search.tasks.countdown_solver import after, legal_steps, solvable, strip_outer_parens
from search.tasks.countdown_steps import apply_step, format_step
from search.tasks.problem_files import load_problem_file

log = logging.getLogger(__name__)

SOURCES = ("generate", "file")
PROMPT_FORMATS = ("fewshot", "chat")


@dataclass
class CountdownConfig:
    """Configuration of the Countdown task (Hydra group `task`, registered as `countdown`)."""

    name: str = field(default="countdown", metadata={"help": "Registry name of the task."})
    dataset: str = field(default="countdown", metadata={"help": "Value of `problems.dataset` for these problems."})
    source: str = field(default="generate", metadata={"help": "'generate' (seeded generator) or 'file' (JSONL/Parquet at `path`)."})
    path: str | None = field(default=None, metadata={"help": "Problem file (.jsonl or .parquet) when source='file'."})
    skip_bad_rows: bool = field(default=False, metadata={"help": "Skip (and count) invalid file rows instead of failing."})
    n_numbers: int = field(default=3, metadata={"help": "Numbers per generated problem."})
    min_number: int = field(default=1, metadata={"help": "Smallest generated number."})
    max_number: int = field(default=9, metadata={"help": "Largest generated number."})
    min_target: int = field(default=10, metadata={"help": "Smallest generated target."})
    max_target: int = field(default=50, metadata={"help": "Largest generated target."})
    n_train: int = field(default=24, metadata={"help": "Generated train problems."})
    n_test: int = field(default=16, metadata={"help": "Generated test problems (held-out targets)."})
    test_fraction: float = field(default=0.2, metadata={"help": "Share of target values held out for the test split (generator and file rows without `split`)."})
    only_solvable: bool = field(default=True, metadata={"help": "Keep only problems the exact solver can solve (generator and files)."})
    seed: int = field(default=0, metadata={"help": "Generator seed."})
    prompt_format: str = field(default="fewshot", metadata={"help": "'fewshot' (plain completion with three worked examples) or 'chat' (see `prompt_messages`)."})

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"task.source must be one of {SOURCES}, got {self.source!r}")
        if self.source == "file" and not self.path:
            raise ValueError("task.path is required when task.source='file'")
        if self.prompt_format not in PROMPT_FORMATS:
            raise ValueError(f"task.prompt_format must be one of {PROMPT_FORMATS}, got {self.prompt_format!r}")
        if self.n_numbers < 2:
            raise ValueError(f"task.n_numbers must be at least 2, got {self.n_numbers}")
        if not 0 <= self.min_number <= self.max_number:
            raise ValueError(f"task.min_number..max_number must satisfy 0 <= min <= max, got {self.min_number}..{self.max_number}")
        if not 0 <= self.min_target <= self.max_target:
            raise ValueError(f"task.min_target..max_target must satisfy 0 <= min <= max, got {self.min_target}..{self.max_target}")
        if not 0.0 <= self.test_fraction <= 1.0:
            raise ValueError(f"task.test_fraction must be in [0, 1], got {self.test_fraction}")
        if self.n_train < 0 or self.n_test < 0:
            raise ValueError(f"task.n_train and task.n_test must be >= 0, got {self.n_train}, {self.n_test}")


class CountdownTask(Task):
    """Countdown as a search task: labelled steps, an exact oracle, and a safe answer verifier."""

    name = "countdown"
    stop = ("\n",)

    def __init__(self, config: CountdownConfig | None = None) -> None:
        self.config = config or CountdownConfig()
        self.last_skipped: list[str] = []   # bad rows skipped by the last file load

    # -- problems -----------------------------------------------------------------------------
    def load_problems(self) -> list[Problem]:
        """Generated problems, or the rows of `config.path` (split by target where a row has none)."""
        cfg = self.config
        if cfg.source == "generate":
            return generate_problems(cfg)
        loaded = load_problem_file(cfg.path, skip_bad_rows=cfg.skip_bad_rows)
        self.last_skipped = loaded.skipped
        problems: dict[str, Problem] = {}
        duplicates = unsolvable = 0
        for row in loaded.rows:
            split = row.split or split_of_target(row.target, cfg.test_fraction)
            extra = {"id": row.id} if row.id is not None else None
            problem = make_problem(row.nums, row.target, split, cfg.dataset, extra)
            if problem.key in problems:
                duplicates += 1     # keys are unique per dataset in the store; the first row wins
            elif cfg.only_solvable and problem.answer is None:
                unsolvable += 1
            else:
                problems[problem.key] = problem
        if duplicates or unsolvable or loaded.skipped:
            log.warning(
                "%s: %d problems loaded; dropped %d duplicate, %d unsolvable, %d bad rows",
                cfg.path, len(problems), duplicates, unsolvable, len(loaded.skipped),
            )
        return list(problems.values())

    def initial_state(self, problem: Problem) -> dict[str, Any]:
        """All numbers left, each its own expression."""
        nums = list(problem.payload["nums"])
        return {"nums": nums, "exprs": [str(n) for n in nums], "target": problem.payload["target"]}

    # -- prompts ------------------------------------------------------------------------------
    def question(self, problem: Problem) -> str:
        """`Numbers: 3, 5, 7\\nTarget: 22\\n`."""
        return prompts.question(problem.payload["nums"], problem.payload["target"])

    def prompt(self, problem: Problem) -> str:
        """The few-shot completion prompt ending in `<think>\\n`.

        With prompt_format='chat' the explorer should render `prompt_messages` with the policy's
        chat template instead; this then returns the same messages as plain text for backends
        without a template.
        """
        if self.config.prompt_format == "chat":
            messages = self.prompt_messages(problem)
            return "\n\n".join(m["content"] for m in messages) + "\n<think>\n"
        return prompts.fewshot_prompt(problem, self.config.test_fraction, self.config.max_number)

    def prompt_messages(self, problem: Problem) -> list[dict[str, str]]:
        """Chat messages (system, user) with the rules, the format, a worked example and the problem."""
        return prompts.chat_messages(problem, self.config.test_fraction, self.config.max_number)

    def instructions(self, problem: Problem) -> str:
        """Rules, output format and the problem as one user message (`messages` datasets)."""
        return prompts.instructions(problem)

    # -- steps --------------------------------------------------------------------------------
    def apply_step(self, state: dict[str, Any], text: str) -> StepResult:
        """Label one generated line: valid / dead_end / solution / invalid (see countdown_steps)."""
        return apply_step(state, text)

    def is_solvable(self, state: dict[str, Any]) -> bool:
        """Oracle: can the state's numbers still make its target?"""
        return solvable(state["nums"], state["target"])

    def final_answer(self, problem: Problem, states: list[dict[str, Any]]) -> str:
        """The last state's single expression, outer parentheses dropped: `(28 - 18) + 5`."""
        last = states[-1]
        if len(last["exprs"]) != 1:
            raise ValueError(f"problem {problem.key}: the last state still has {len(last['exprs'])} numbers")
        return strip_outer_parens(last["exprs"][0])

    def verify(self, problem: Problem, answer: str | None) -> bool:
        """True iff `answer` uses each number exactly once and equals the target (exact arithmetic)."""
        if not isinstance(answer, str):
            return False
        return uses_exactly(answer, list(problem.payload["nums"]), problem.payload["target"])

    def sample_step(self, state: dict[str, Any], rng: random.Random, error_rate: float) -> str:
        """A scripted next line: on a solution path with probability 1 - error_rate, else a mistake.

        Mistakes are, equally likely, a random legal step (often a dead end), a wrong product, or a
        step using a number that is not left. Deterministic given `rng`.
        """
        nums, target = list(state["nums"]), state["target"]
        steps = legal_steps(nums)
        if rng.random() >= error_rate and steps:
            good = [s for s in steps if solvable(after(nums, s), target)]
            step = rng.choice(good or steps)
            return format_step(*step, after(nums, step))
        kind = rng.choice(("legal", "wrong_product", "unavailable"))
        if kind == "legal" and steps:
            step = rng.choice(steps)
            return format_step(*step, after(nums, step))
        if kind == "wrong_product" and len(nums) >= 2:
            a, b = rng.sample(nums, 2)
            return f"{a} * {b} = {a * b + rng.randint(1, 9)}"
        missing = max(nums, default=0) + rng.randint(1, 9)
        other = rng.choice(nums) if nums else 1
        return f"{missing} + {other} = {missing + other}"
