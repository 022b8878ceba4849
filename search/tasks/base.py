"""The Task interface: what a search needs to know about a problem domain.

A Task is the world model plus verifier (LLM Reasoners' `WorldModel`): it renders the prompt the
policy continues, turns one generated line into a labelled step, and checks final answers. It
never calls a model.
"""
from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

# Node labels, as stored in `nodes.label`.
ROOT = "root"
VALID = "valid"              # legal step, target still reachable (oracle)
INVALID = "invalid"          # illegal or unparsable step; `reason` says why
DEAD_END = "dead_end"        # legal step, but the oracle says the target is now unreachable
SOLUTION = "solution"        # legal step that reaches the goal
LABELS = (ROOT, VALID, INVALID, DEAD_END, SOLUTION)
MISTAKE_LABELS = (INVALID, DEAD_END)

# Every trajectory, few-shot example and evaluation answer uses this frame, so that a model tuned
# on exported data answers in the format the verifier reads.
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"


def render_completion(lines: list[str], answer: str) -> str:
    """`<think>` + one line per step + `</think>` + `<answer>answer</answer>`."""
    body = "\n".join(lines)
    return f"{THINK_OPEN}\n{body}\n{THINK_CLOSE}\n{ANSWER_OPEN}{answer}{ANSWER_CLOSE}"


def extract_answer(text: str) -> str | None:
    """The content of the last complete <answer>...</answer> in `text`, stripped; None if absent."""
    end = text.rfind(ANSWER_CLOSE)
    if end < 0:
        return None
    start = text.rfind(ANSWER_OPEN, 0, end)
    if start < 0:
        return None
    return text[start + len(ANSWER_OPEN):end].strip()


@dataclass
class Problem:
    """One problem as it is stored in `problems`."""

    key: str                       # natural key, unique within a dataset
    payload: dict[str, Any]        # task fields, e.g. {"nums": [3, 5, 7], "target": 22}
    answer: str | None = None      # one gold answer, when known
    split: str = "train"           # train | test (held out for evaluation)
    dataset: str = "countdown"

    def row(self) -> dict[str, Any]:
        """The `problems` row of this problem, as `TraceStore.add_problems` takes it."""
        return {"dataset": self.dataset, "key": self.key, "split": self.split, "payload": self.payload,
                "answer": self.answer}


@dataclass
class StepResult:
    """What applying one generated line to a state gives."""

    label: str                     # one of LABELS (never ROOT)
    state: dict[str, Any] | None   # state after the step; None when the step is invalid
    reason: str | None = None      # why invalid / dead_end, in words ("9 * 8 is 72, not 64")
    terminal: bool = False         # no further step can or should be taken
    reward: float | None = None    # verifier reward at terminals: 1.0 solved, 0.0 failed
    step: str | None = None        # canonical rendering of the step, None if unparsable
    info: dict[str, Any] = field(default_factory=dict)  # task-specific details (operands, ...)


class Task(ABC):
    """A reasoning domain. Subclasses are registered in `search.tasks.TASKS`."""

    name: str = "task"
    stop: tuple[str, ...] = ("\n",)  # the policy stops at the end of one step

    @abstractmethod
    def load_problems(self) -> list[Problem]:
        """Problems from the configured source (generator or file), train and test splits."""

    @abstractmethod
    def initial_state(self, problem: Problem) -> dict[str, Any]:
        """The JSON-serialisable state at the root of a tree."""

    @abstractmethod
    def prompt(self, problem: Problem) -> str:
        """Text the policy continues to write the first step (steps follow, one per line)."""

    @abstractmethod
    def apply_step(self, state: dict[str, Any], text: str) -> StepResult:
        """Parse one generated line and apply it to `state`; never raises on model text."""

    @abstractmethod
    def final_answer(self, problem: Problem, states: list[dict[str, Any]]) -> str:
        """The answer expression for a solved path (root state .. solution state)."""

    @abstractmethod
    def verify(self, problem: Problem, answer: str) -> bool:
        """Deterministic verifier of a final answer (the text inside <answer>...</answer>)."""

    def question(self, problem: Problem) -> str:
        """The bare problem statement (zero-shot), used as the `prompt` of exported datasets."""
        raise NotImplementedError

    def instructions(self, problem: Problem) -> str:
        """Rules, output format and the problem, as one user message (`messages` datasets)."""
        raise NotImplementedError

    def sample_step(self, state: dict[str, Any], rng: random.Random, error_rate: float) -> str:
        """A plausible next line for the scripted policy (tests and benchmarks only)."""
        raise NotImplementedError(f"task {self.name!r} has no scripted steps")
