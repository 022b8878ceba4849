"""One generated math step: its label, the state after it, and why it failed.

A step is free text (a line or a paragraph). It is `invalid` when empty or when it closes the
reasoning or a `\\boxed{` without a readable answer; it is final when it states an answer (the last
`\\boxed{}`, `#### n` or "the answer is n"), judged by the verifier: `solution` (reward 1) or
`wrong_answer` (reward 0, the reason naming the model's own answer, never the gold); otherwise it
is `valid` and the search goes on. A step that runs on past a frame marker (`</think>`, a chat
template's `<|im_end|>`) is shown, in every trajectory, as its text up to the marker
(`quote_model_text`; the node keeps it as generated), while its label still reads an answer the
model stated after closing its reasoning, where the trajectory frame puts the answer. The state
is JSON: `{"n": steps so far, "numbers": numbers written so far (strings), "answer": the stated
final answer or None}`.
"""
from __future__ import annotations

from typing import Any, Callable

from search.tasks.base import (INVALID, SOLUTION, THINK_CLOSE, VALID, WRONG_ANSWER, Problem, StepResult,
                               quote_model_text)
from search.tasks.math.answers import extract_answer, has_open_box, numbers

MAX_NUMBERS_PER_STEP = 64     # a state stays small even when a step is a wall of digits
MAX_SHOWN = 40                # characters of a wrong answer quoted in its reason


def initial_state() -> dict[str, Any]:
    """The state before any step."""
    return {"n": 0, "numbers": [], "answer": None}


def advance(state: dict[str, Any], text: str, answer: str | None) -> dict[str, Any]:
    """The state after step `text` (which states `answer`, or None)."""
    return {"n": state["n"] + 1, "numbers": list(state["numbers"]) + numbers(text)[:MAX_NUMBERS_PER_STEP],
            "answer": answer}


def shown(answer: str) -> str:
    """A model answer cut to `MAX_SHOWN` characters for a reason."""
    answer = " ".join(answer.split())
    return answer if len(answer) <= MAX_SHOWN else answer[:MAX_SHOWN - 3] + "..."


def apply_step(state: dict[str, Any], text: str, problem: Problem | None,
               judge: Callable[[Problem, str], bool]) -> StepResult:
    """Label one generated step; `judge(problem, answer)` verifies a stated final answer. Never
    raises on model text."""
    if not isinstance(text, str) or not text.strip():
        return StepResult(INVALID, None, reason="empty step", terminal=True, reward=0.0)
    step = text.strip()
    line = quote_model_text(step)   # what trajectories show of this step
    answer = extract_answer(step)
    if answer is None:
        if has_open_box(step):
            return StepResult(INVALID, None, reason="the \\boxed{ answer is never closed", terminal=True, reward=0.0)
        if THINK_CLOSE in step:
            return StepResult(INVALID, None, reason="the reasoning ended without a final answer", terminal=True,
                              reward=0.0)
        if not line:
            return StepResult(INVALID, None, reason="empty step", terminal=True, reward=0.0)
        return StepResult(VALID, advance(state, step, None), step=line)
    if problem is None:
        raise ValueError("math steps that state an answer need the problem to verify it: pass "
                         "apply_step(state, text, problem)")
    after = advance(state, step, answer)
    if judge(problem, answer):
        return StepResult(SOLUTION, after, terminal=True, reward=1.0, step=line, final=True,
                          info={"answer": answer})
    reason = "the \\boxed{} is empty" if not answer.strip() else f"that gives {shown(answer)}, which doesn't fit the question"
    return StepResult(WRONG_ANSWER, after, reason=reason, terminal=True, reward=0.0, step=line, final=True,
                      info={"answer": answer})
