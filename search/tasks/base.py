"""The Task contract: everything generic code needs to know about a reasoning domain.

A Task is the world model plus verifier (LLM Reasoners' `WorldModel`): it renders the prompt the
policy continues, turns one generated step into a labelled step, extracts and checks final
answers, and puts states and failures into words for reflections. It never calls a model. Generic
code (explorer, algorithms, value estimators, linearizers, export, training, evaluation) talks to
a domain only through this class, so a new domain is one package under `search/tasks/<name>/` plus
one YAML file in `conf/task/`.
"""
from __future__ import annotations

import functools
import random
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

# Node labels, as stored in `nodes.label`.
ROOT = "root"
VALID = "valid"              # legal step; the goal is still reachable (oracle) or some rollout reached it
INVALID = "invalid"          # illegal or unparsable step; `reason` says why
DEAD_END = "dead_end"        # legal step from which the goal is unreachable (oracle) or no rollout reached it
SOLUTION = "solution"        # a step that reaches a verified final answer
WRONG_ANSWER = "wrong_answer"  # a step that states a final answer the verifier rejects
LABELS = (ROOT, VALID, INVALID, DEAD_END, SOLUTION, WRONG_ANSWER)
MISTAKE_LABELS = (INVALID, DEAD_END, WRONG_ANSWER)

# Every trajectory, few-shot example and evaluation answer uses this frame, so that a model tuned
# on exported data answers in the format the verifier reads. The answer after `</think>` is the
# task's own (`Task.format_answer`).
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
# Chat templates' special tokens written as text: ChatML's `<|im_start|>`, `<|im_end|>`,
# `<|endoftext|>`, Llama 3's `<|eot_id|>`, DeepSeek's `<｜end▁of▁sentence｜>` (full-width bars). A
# policy that runs past its stop strings writes them into a step, and a trace may never hold one.
CHAT_TOKEN = r"<\|[^\s<>|]{1,64}\|>|<｜[^\s<>｜]{1,64}｜>"


@functools.lru_cache(maxsize=64)
def frame_pattern(answer_markers: tuple[str, ...] = ()) -> re.Pattern[str]:
    """The regex of every frame marker: `<think>`, `</think>`, a task's `answer_markers` and any chat
    special token (longest literal first, so a closing marker is never read as a shorter one it contains)."""
    literal = sorted({THINK_OPEN, THINK_CLOSE, *answer_markers}, key=lambda m: (-len(m), m))
    return re.compile("|".join([*map(re.escape, literal), CHAT_TOKEN]))


def quote_model_text(text: str | None, answer_markers: tuple[str, ...] = ()) -> str:
    """Model-written text as a trajectory may show it: its first stretch that holds no frame marker,
    stripped; "" when it holds nothing else.

    `9+(5*2)</think>` -> `9+(5*2)`; `</think> The answer is 4.` -> `The answer is 4.`. The one rule
    for every kind and task (steps, reasons that quote an answer, grafted rollouts): a step that ran
    past the stop strings is stored as generated and shown without them, so that no trace closes its
    reasoning, or states an answer, in the middle of a search (issue 27).
    """
    if not isinstance(text, str):
        return ""
    for piece in frame_pattern(tuple(answer_markers)).split(text):
        if piece.strip():
            return piece.strip()
    return ""

PROMPT_STYLES = ("fewshot", "chat", "question")


@dataclass
class Problem:
    """One problem as it is stored in `problems`."""

    key: str                       # natural key, unique within a dataset
    payload: dict[str, Any]        # task fields, e.g. Countdown's numbers and target, or a math question
    answer: str | None = None      # one gold answer, when known
    split: str = "train"           # train | test (held out for evaluation)
    dataset: str = ""

    def row(self) -> dict[str, Any]:
        """The `problems` row of this problem, as `TraceStore.add_problems` takes it."""
        return {"dataset": self.dataset, "key": self.key, "split": self.split, "payload": self.payload,
                "answer": self.answer}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Problem:
        """The problem of a stored `problems` row (or of a tree's `problem` dict); the one place
        a row becomes a `Problem`."""
        missing = [k for k in ("key", "payload") if k not in row]
        if missing:
            raise ValueError(f"problem row lacks field(s) {missing}")
        return cls(key=row["key"], payload=row["payload"], answer=row.get("answer"),
                   split=row.get("split") or "train", dataset=row.get("dataset") or "")


@dataclass
class StepResult:
    """What applying one generated step to a state gives."""

    label: str                     # one of LABELS (never ROOT)
    state: dict[str, Any] | None   # state after the step; None when the step is invalid
    reason: str | None = None      # why invalid / dead_end / wrong, in words ("9 * 8 is 72, not 64")
    terminal: bool = False         # no further step can or should be taken
    reward: float | None = None    # verifier reward at terminals: 1.0 solved, 0.0 failed
    step: str | None = None        # canonical rendering of the step, None if unparsable
    # The step ends the problem by itself (states a final answer, uses the last number): its label
    # is then the verifier's. A non-final label may come from an oracle (Countdown's solver), which
    # a Monte-Carlo value estimator replaces with its own.
    final: bool = False
    info: dict[str, Any] = field(default_factory=dict)  # task-specific details (operands, ...)


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


class Task(ABC):
    """A reasoning domain. Subclasses are registered in `search.tasks.TASKS`.

    Subclasses set `config` (their settings dataclass, which has at least `dataset` and
    `prompt_format`) in `__init__`.
    """

    name: str = "task"
    step_delimiter: str = "\n"
    """Text between two steps, in prompts and in trajectories; the policy stops at it."""
    answer_stop: tuple[str, ...] = ()
    """Stop strings of a completion that runs to the final answer (rollouts, evaluation), besides
    EOS; `close_answer` puts a cut-off one back."""
    answer_markers: tuple[str, ...] = ()
    """Literal tags of the answer frame that reasoning never holds (an XML-style answer tag
    pair); with `<think>`, `</think>` and chat special tokens they are the task's frame
    markers (`frame_markers`, `quote`)."""
    default_value: str = "label"
    """The value estimator used when `search.value` is not set: `label` (the task's own step
    labels, for tasks with an exact oracle) or `rollout` (Monte-Carlo completions)."""
    label_notes: str = ""
    """How node labels are decided, as Markdown bullets for the dataset card."""
    verifier_package: str = "journeyforge"
    """The distribution whose code decides `verify` (the task's own checker: journeyforge); the dataset
    card names it with its installed version, since a verifier's bug changes every reward."""
    strict_facts: bool = True
    """An LLM rewrite of a journey may add no fact (`kept_facts`) its draft lacks; tasks whose
    facts are bare numbers that prose restates freely turn this off."""
    # -- what the task serves ------------------------------------------------------------------
    # A task declares what it supports here; it never sets another group's values. The user's
    # choices (`linearize=...`, `policy=symbolic policy.heuristic=...`, `task.prompt_format=...`)
    # always stand, and a choice the task cannot serve is a one-line config error naming both
    # (journeyforge/task_choices.py). Its default choices of other groups are `override`s in the
    # defaults list of its conf/task/<name>.yaml, which the command line replaces.
    stream_grammar: bool = False
    """Whether the `stream` linearizer (Stream of Search's state grammar) has a rendering for this
    task (`stream_state`, `stream_operation`). A trajectory kind names the capability it needs
    (`TrajectoryKind.needs` in traces/linearize.py): the kinds a task supports follow from these flags."""
    symbolic: bool = False
    """Whether the task can enumerate its legal next steps (`legal_steps`), so that the `symbolic`
    policy grows trees with no model (Stream of Search's generator)."""
    heuristics: tuple[str, ...] = ()
    """Names `heuristic` accepts (state scores for ordering symbolic searches; lower is closer). The
    first is the task's default (`policy.heuristic=default`, the symbolic policy's default)."""
    prompt_styles: tuple[str, ...] = PROMPT_STYLES
    """The `task.prompt_format` values this task renders (its config checks the same names)."""

    config: Any

    # -- identity -----------------------------------------------------------------------------
    @property
    def dataset(self) -> str:
        """`problems.dataset` of this task's problems."""
        return self.config.dataset

    @property
    def prompt_format(self) -> str:
        """The prompt style the explorer uses (`fewshot`, `chat` or `question`)."""
        return self.config.prompt_format

    @property
    def stop(self) -> tuple[str, ...]:
        """Stop strings of one step: the step delimiter."""
        return (self.step_delimiter,)

    # -- problems -----------------------------------------------------------------------------
    @abstractmethod
    def load_problems(self) -> list[Problem]:
        """Problems from the configured source (generator or file), train and test splits."""

    def canonical_form(self, problem: Problem) -> str | None:
        """The problem reduced to what makes it the same problem (e.g. a multiset of numbers and a
        target), compared instead of its text when checking training problems against held-out and
        benchmark problems (traces/decontamination.py); None: compare its text (word n-grams). Called on
        rows of files a user names too: return None for a payload without the task's fields."""
        return None

    @abstractmethod
    def initial_state(self, problem: Problem) -> dict[str, Any]:
        """The JSON-serialisable state at the root of a tree."""

    # -- prompts ------------------------------------------------------------------------------
    @abstractmethod
    def question(self, problem: Problem) -> str:
        """The bare problem statement (zero-shot), used as the `prompt` of exported datasets."""

    @abstractmethod
    def instructions(self, problem: Problem) -> str:
        """Rules, output format and the problem, as one user message (`messages` datasets)."""

    @abstractmethod
    def fewshot_prompt(self, problem: Problem) -> str:
        """Solved examples then the problem, ending where the first step starts (after `<think>`)."""

    def prompt_messages(self, problem: Problem) -> list[dict[str, str]]:
        """Chat messages for instruction-tuned models: by default the instructions as one user turn."""
        return [{"role": "user", "content": self.instructions(problem)}]

    def prompt(self, problem: Problem, style: str | None = None, render_chat=None) -> str:
        """The text the policy continues to write the first step, in `style` (default: the
        configured `prompt_format`). `render_chat(messages)` applies the policy's chat template;
        without one the messages are joined as plain text."""
        style = style or self.prompt_format
        if style == "fewshot":
            return self.fewshot_prompt(problem)
        if style == "question":
            return self.question(problem) + f"{THINK_OPEN}\n"
        if style == "chat":
            messages = self.prompt_messages(problem)
            head = render_chat(messages) if render_chat else "\n\n".join(m["content"] for m in messages) + "\n"
            return head + f"{THINK_OPEN}\n"
        raise ValueError(f"prompt style must be one of {PROMPT_STYLES}, got {style!r}")

    # -- steps --------------------------------------------------------------------------------
    @abstractmethod
    def apply_step(self, state: dict[str, Any], text: str, problem: Problem | None = None) -> StepResult:
        """Parse one generated step and apply it to `state`; never raises on model text. The
        explorer passes the tree's `problem` (tasks whose state does not hold the goal need it)."""

    def join_steps(self, lines: Sequence[str]) -> str:
        """Steps as one text, separated by the step delimiter."""
        return self.step_delimiter.join(lines)

    def is_solvable(self, state: dict[str, Any]) -> bool | None:
        """Oracle: can the goal still be reached from `state`? None when the task has no oracle."""
        return None

    # -- answers ------------------------------------------------------------------------------
    @abstractmethod
    def final_answer(self, problem: Problem, states: list[dict[str, Any]]) -> str:
        """The final answer of a solved path (root state .. solution state)."""

    @abstractmethod
    def format_answer(self, answer: str) -> str:
        """The final answer as written after the reasoning (an answer tag pair, `\\boxed{..}`)."""

    @abstractmethod
    def extract_answer(self, text: str) -> str | None:
        """The final answer a generated text states, or None; never raises on model text."""

    @abstractmethod
    def verify(self, problem: Problem, answer: str | None) -> bool:
        """Deterministic verifier of a final answer; bounded in time on any model text."""

    def verify_many(self, items: Sequence[tuple[Problem, str | None]]) -> list[bool]:
        """`verify` over many (problem, answer) pairs; tasks with a slow checker batch it."""
        return [self.verify(p, a) for p, a in items]

    def same_answer(self, a: str, b: str) -> bool:
        """Whether two extracted answers are the same answer (majority votes); whitespace-blind."""
        return "".join(a.split()) == "".join(b.split())

    def render_completion(self, lines: Sequence[str], answer: str) -> str:
        """`<think>` + the steps + `</think>` + the formatted answer: the frame of every
        trajectory, few-shot example and evaluated answer."""
        return f"{THINK_OPEN}\n{self.join_steps(lines)}\n{THINK_CLOSE}\n{self.format_answer(answer)}"

    def completion_steps(self, text: str) -> tuple[list[str], str]:
        """A completion that continues a node (a rollout) as (its steps before `</think>`, the text
        after it, which states the final answer)."""
        think, _, tail = text.partition(THINK_CLOSE)
        steps = [s.strip() for s in think.split(self.step_delimiter) if s.strip()]
        return steps, tail.strip()

    def close_answer(self, text: str, finish_reason: str | None) -> str:
        """A completion with the answer stop string put back when the policy cut it off."""
        return text

    # -- frame markers --------------------------------------------------------------------------
    @property
    def frame_markers(self) -> re.Pattern[str]:
        """The regex of this task's frame markers (`frame_pattern` of its `answer_markers`)."""
        return frame_pattern(tuple(self.answer_markers))

    def quote(self, text: str | None) -> str:
        """Model text (a step, a reason quoting an answer) as a trajectory shows it, without frame
        markers (`quote_model_text`); "" when nothing else is left."""
        return quote_model_text(text, tuple(self.answer_markers))

    # -- words for reflections ----------------------------------------------------------------
    def describe_state(self, state: dict[str, Any] | None) -> str | None:
        """A state in words for a return line ("3, 8, 9"); None: the reflection names the last
        good step generically."""
        return None

    def describe_failure(self, node: Mapping[str, Any]) -> str | None:
        """What is wrong at a failing node, as a clause without the gold answer; None: generic."""
        reason = (node.get("reason") or "").strip().rstrip(".").strip()
        return reason or None

    def describe_check(self, node: Mapping[str, Any]) -> str | None:
        """A true statement confirming a correct step, for a check line after it ("4 * 3 = 12 checks
        out; 6, 12 can still make 18"), as a clause; None: the check line says so generically. Called
        only for steps on a verified path, so "still on track" is true of them."""
        return None

    def kept_facts(self, text: str) -> list[str]:
        """Facts of a step that a rewrite must keep verbatim (default: its numbers)."""
        return _NUMBER.findall(text)

    # -- the scripted policy (tests and benchmarks only) --------------------------------------
    def sample_step(self, state: dict[str, Any], rng: random.Random, error_rate: float,
                    problem: Problem | None = None) -> str:
        """A plausible next step (a mistake with probability about `error_rate`)."""
        raise NotImplementedError(f"task {self.name!r} has no scripted steps")

    def sample_rollout(self, state: dict[str, Any], rng: random.Random, error_rate: float,
                       problem: Problem | None = None) -> str:
        """A plausible completion from `state` to a final answer, in the trajectory frame."""
        raise NotImplementedError(f"task {self.name!r} has no scripted rollouts")

    # -- symbolic expansion (optional; only when `symbolic`) ------------------------------------
    def legal_steps(self, state: dict[str, Any], problem: Problem | None = None) -> list[tuple[str, dict[str, Any]]]:
        """Every legal next step of `state`, as (the step text `apply_step` reads back, the state it
        leads to), in a fixed order; empty when no step is left."""
        raise NotImplementedError(f"task {self.name!r} cannot enumerate its steps (no symbolic expansion)")

    def can_continue(self, state: dict[str, Any] | None) -> bool:
        """Whether a step can still follow `state` (a search may walk on below an oracle's dead end
        while this holds; see `SearchSettings.expand_dead_ends`)."""
        return state is not None

    def heuristic(self, state: dict[str, Any], name: str) -> float:
        """How far `state` looks from the goal by heuristic `name` (one of `heuristics`); lower is closer."""
        raise NotImplementedError(f"task {self.name!r} has no heuristic {name!r}")

    # -- stream of search (optional) ----------------------------------------------------------
    def stream_state(self, state: dict[str, Any]) -> str:
        """A state in Stream of Search's grammar, `goal:[items]` (only when `stream_grammar`)."""
        raise NotImplementedError(f"task {self.name!r} has no stream-of-search grammar")

    def stream_result(self, state: dict[str, Any]) -> str:
        """What a step leaves, for `Resulting Numbers: ...` (only when `stream_grammar`)."""
        raise NotImplementedError(f"task {self.name!r} has no stream-of-search grammar")

    def stream_operation(self, text: str) -> str:
        """A step as a compact operation (`9*8=64`), for the stream grammar."""
        return re.sub(r"\s+", "", text.strip()).rstrip(".")

    def stream_goal_reached(self, state: dict[str, Any]) -> str:
        """The line Stream of Search writes when a state reaches the goal."""
        raise NotImplementedError(f"task {self.name!r} has no stream-of-search grammar")
