"""The scripted policy's reasoning-gym steps (tests and engine benchmarks; no model).

reasoning-gym has no worked solutions, so a scripted path is `STEPS` stock lines of reasoning, then a
final step that closes `</think>` and states the gold answer. At each step, with probability `error_rate`,
the path ends at once with a wrong answer instead (the gold changed: a number moved, a last line dropped,
a word added), which the dataset's own scorer rejects; so the state alone says how a path goes on.
"""
from __future__ import annotations

import random
from typing import Any

from search.tasks.base import THINK_CLOSE, Problem
from search.tasks.countdown.answer import format_answer

STEPS = 2
LINES = ("I restate what the question asks for.", "I work through it one part at a time.",
         "I check each part against the question.", "I write down what I have so far.")
CLOSING = "So I have the answer."


def wrong_answer(gold: str, rng: random.Random) -> str:
    """An answer the gold is not: an integer moved by 1..9, a many-line answer without its last line,
    anything else with a word added."""
    text = gold.strip()
    if text.lstrip("-").isdigit():
        return str(int(text) + rng.randint(1, 9))
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > 1:
        return "\n".join(lines[:-1])
    return f"{text} maybe"


def _gold(problem: Problem | None) -> str:
    if problem is None or problem.answer is None:
        raise ValueError("the reasoning-gym task's scripted steps state the problem's gold answer: pass the problem "
                         "(request.meta['problem']) of a dataset with one gold answer per entry")
    return str(problem.answer)


def final_step(answer: str) -> str:
    """The step that closes the reasoning and states `answer`."""
    return f"{CLOSING}\n{THINK_CLOSE}\n{format_answer(answer)}"


def sample_step(state: dict[str, Any], rng: random.Random, error_rate: float, problem: Problem | None) -> str:
    """The next scripted step from `state`: a stock line, or (after `STEPS` of them) the gold answer; with
    probability `error_rate` a final step with a wrong answer instead. Deterministic given `rng`."""
    gold = _gold(problem)
    if rng.random() < error_rate:
        return final_step(wrong_answer(gold, rng))
    if state["n"] < STEPS:
        return f"Step {state['n'] + 1}: {rng.choice(LINES)}"
    return final_step(gold)


def sample_rollout(state: dict[str, Any], rng: random.Random, error_rate: float, problem: Problem | None,
                   delimiter: str) -> str:
    """Scripted steps from `state` to a stated answer: a whole completion in the trajectory frame."""
    lines: list[str] = []
    n = state["n"]
    while True:
        step = sample_step({"n": n}, rng, error_rate, problem)
        if THINK_CLOSE in step:
            return delimiter.join(lines + [step])
        lines.append(step)
        n += 1
