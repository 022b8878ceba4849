"""A second, tiny task used only in tests: add up a list of numbers one at a time.

It differs from Countdown wherever generic code could have assumed Countdown: its steps are
separated by a blank line ("\\n\\n"), its answer frame is `Total: [[n]]`, its state has no `nums`
or `target`, it has no oracle (labels come from the arithmetic alone), and it has no stream
grammar. Register it with `register()`; then `make_task({"name": "sum", ...})` builds it.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

from search.tasks import TASKS
from search.tasks.base import INVALID, SOLUTION, THINK_CLOSE, VALID, Problem, StepResult, Task

_STEP = re.compile(r"^\s*(-?\d+)\s*\+\s*(-?\d+)\s*=\s*(-?\d+)\s*$")
_ANSWER = re.compile(r"Total:\s*\[\[\s*(-?\d+)\s*\]\]")


@dataclass
class SumConfig:
    name: str = "sum"
    dataset: str = "sum"
    n_train: int = 6
    n_test: int = 2
    length: int = 3
    seed: int = 0
    prompt_format: str = "fewshot"


class SumTask(Task):
    """Problems `[a, b, c]`; a step `total + next = new total`; solved when every number is added."""

    name = "sum"
    step_delimiter = "\n\n"
    answer_stop = ("]]",)
    answer_markers = ("Total: [[", "[[", "]]")   # its answer frame's tags, not `<answer>`
    label_notes = "- **invalid**: a wrong sum or a step that does not add the next number.\n- **solution**: the last sum."

    def __init__(self, config: SumConfig | None = None):
        self.config = config or SumConfig()

    def load_problems(self) -> list[Problem]:
        rng = random.Random(self.config.seed)
        out = []
        for i in range(self.config.n_train + self.config.n_test):
            nums = [rng.randint(1, 9) for _ in range(self.config.length)]
            split = "train" if i < self.config.n_train else "test"
            out.append(Problem(key=f"{split}-{i}-" + "+".join(map(str, nums)), payload={"items": nums},
                               answer=str(sum(nums)), split=split, dataset=self.config.dataset))
        return out

    def initial_state(self, problem: Problem) -> dict[str, Any]:
        items = problem.payload["items"]
        return {"total": items[0], "rest": items[1:]}

    def question(self, problem: Problem) -> str:
        return "Add up: " + " ".join(map(str, problem.payload["items"])) + "\n"

    def instructions(self, problem: Problem) -> str:
        return "Add the numbers one at a time, then write Total: [[n]].\n" + self.question(problem)

    def fewshot_prompt(self, problem: Problem) -> str:
        example = "Add up: 1 2 3\n" + self.render_completion(["1 + 2 = 3", "3 + 3 = 6"], "6")
        return example + "\n\n" + self.question(problem) + "<think>\n"

    def apply_step(self, state: dict[str, Any], text: str, problem: Problem | None = None) -> StepResult:
        m = _STEP.match(self.quote(text))
        if not m or not state["rest"]:
            return StepResult(INVALID, None, reason="not a sum of the total and the next number", terminal=True,
                              reward=0.0)
        a, b, c = (int(g) for g in m.groups())
        if a != state["total"] or b != state["rest"][0]:
            return StepResult(INVALID, None, reason=f"the next sum is {state['total']} + {state['rest'][0]}",
                              terminal=True, reward=0.0)
        if a + b != c:
            return StepResult(INVALID, None, reason=f"{a} + {b} is {a + b}, not {c}", terminal=True, reward=0.0)
        new = {"total": c, "rest": state["rest"][1:]}
        if not new["rest"]:
            return StepResult(SOLUTION, new, terminal=True, reward=1.0, final=True)
        return StepResult(VALID, new)

    def final_answer(self, problem: Problem, states: list[dict[str, Any]]) -> str:
        return str(states[-1]["total"])

    def format_answer(self, answer: str) -> str:
        return f"Total: [[{answer}]]"

    def extract_answer(self, text: str) -> str | None:
        found = _ANSWER.findall(text)
        return found[-1] if found else None

    def close_answer(self, text: str, finish_reason: str | None) -> str:
        if finish_reason == "stop" and text.rfind("[[") > text.rfind("]]"):
            return text + "]]"
        return text

    def verify(self, problem: Problem, answer: str | None) -> bool:
        return answer is not None and answer.strip() == problem.answer

    def describe_state(self, state: dict[str, Any] | None) -> str | None:
        return f"the running total {state['total']}" if state else None

    def sample_step(self, state: dict[str, Any], rng: random.Random, error_rate: float,
                    problem: Problem | None = None) -> str:
        a, b = state["total"], state["rest"][0] if state["rest"] else 0
        wrong = rng.random() < error_rate
        return f"{a} + {b} = {a + b + (rng.randint(1, 3) if wrong else 0)}"

    def sample_rollout(self, state: dict[str, Any], rng: random.Random, error_rate: float,
                       problem: Problem | None = None) -> str:
        lines, total = [], state["total"]
        for b in state["rest"]:
            wrong = rng.random() < error_rate
            new = total + b + (rng.randint(1, 3) if wrong else 0)
            lines.append(f"{total} + {b} = {new}")
            total = new
        return self.join_steps(lines) + f"\n{THINK_CLOSE}\n" + self.format_answer(str(total))


def register() -> None:
    """Make `make_task({"name": "sum"})` build this task (for the test session)."""
    TASKS["sum"] = "tests.sum_task:SumTask:tests.sum_task:SumConfig"
