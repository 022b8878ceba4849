"""One generated step of a reasoning-gym problem: its label, the state after it, and why it failed.

A step is free text (a paragraph by default). It is `invalid` when empty, when it closes the reasoning
without an answer, or when it opens `<answer>` and never closes it; it is final when it holds a complete
`<answer>...</answer>` (usually after `</think>`, where the trajectory frame puts the answer), and then the
dataset's own `score_answer` decides: score 1.0 is a `solution`, anything less a `wrong_answer` whose
reason quotes the model's answer and its score, never the gold. Other steps are `valid`; their value
comes from rollouts. The state is JSON: `{"n": steps so far, "answer": the stated answer or None,
"score": its score or None}`.
"""
from __future__ import annotations

from typing import Any, Callable

from search.tasks.base import INVALID, SOLUTION, THINK_CLOSE, VALID, WRONG_ANSWER, Problem, StepResult, quote_model_text
from search.tasks.countdown.answer import ANSWER_CLOSE, ANSWER_MARKERS, ANSWER_OPEN, extract_answer

MAX_SHOWN = 40   # characters of a wrong answer quoted in its reason


def initial_state() -> dict[str, Any]:
    """The state before any step."""
    return {"n": 0, "answer": None, "score": None}


def shown(answer: str) -> str:
    """A model answer on one line, cut to `MAX_SHOWN` characters, for a reason."""
    answer = " ".join(answer.split())
    return answer if len(answer) <= MAX_SHOWN else answer[:MAX_SHOWN - 3] + "..."


def _invalid(reason: str) -> StepResult:
    return StepResult(INVALID, None, reason=reason, terminal=True, reward=0.0)


def apply_step(state: dict[str, Any], text: str, problem: Problem | None,
               score: Callable[[Problem, str], float]) -> StepResult:
    """Label one generated step; `score(problem, answer)` is the dataset's score of a stated answer.
    Never raises on model text."""
    if not isinstance(text, str) or not text.strip():
        return _invalid("empty step")
    step = text.strip()
    line = quote_model_text(step, ANSWER_MARKERS)
    answer = extract_answer(step)
    if answer is None:
        if step.rfind(ANSWER_OPEN) > step.rfind(ANSWER_CLOSE):
            return _invalid(f"the {ANSWER_OPEN} is never closed")
        if THINK_CLOSE in step:
            return _invalid("the reasoning ended without a final answer")
        if not line:
            return _invalid("empty step")
        return StepResult(VALID, {"n": state["n"] + 1, "answer": None, "score": None}, step=line)
    if problem is None:
        raise ValueError("steps that state an answer need the problem to score it: pass apply_step(state, text, problem)")
    value = score(problem, answer)
    after = {"n": state["n"] + 1, "answer": answer, "score": value}
    info = {"answer": answer, "score": value}
    if value >= 1.0:
        return StepResult(SOLUTION, after, terminal=True, reward=1.0, step=line, final=True, info=info)
    reason = ("the answer is empty" if not answer else
              f"that gives {shown(answer)}, which the dataset's checker scores {value:g} of 1")
    return StepResult(WRONG_ANSWER, after, reason=reason, terminal=True, reward=0.0, step=line, final=True, info=info)
