"""The scripted policy's math steps (tests and engine benchmarks; no model).

A scripted step replays the gold solution's step number `state["n"]`; with probability
`error_rate` it changes one number, and from then on the path is off-track: every later step has a
changed number and the final answer is the gold plus a nonzero delta. Whether a path is off-track
is read from the state alone (its numbers differ from the gold steps' numbers so far), so the
policy needs no memory and any stored state can be continued.
"""
from __future__ import annotations

import random
from decimal import Decimal
from functools import lru_cache
from typing import Any

from search.tasks.base import THINK_CLOSE, Problem
from search.tasks.math.answers import NUMBER, extract_answer, format_answer, last_boxed_span, numbers, plain_number
from search.tasks.math.solutions import solution_steps
from search.tasks.math.steps import advance


@lru_cache(maxsize=4096)
def _gold(solution: str | None, answer: str, delimiter: str) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """The gold steps, the last one boxing exactly `answer`, and the numbers of each step."""
    steps = solution_steps(solution, answer, delimiter)
    steps[-1] = replace_box(steps[-1], answer)
    return tuple(steps), tuple(tuple(numbers(s)) for s in steps)


def gold_steps(problem: Problem, delimiter: str) -> tuple[str, ...]:
    """The steps the scripted policy replays for `problem`."""
    return _gold(problem.payload.get("solution"), str(problem.answer), delimiter)[0]


def replace_box(step: str, answer: str) -> str:
    """`step` with the content of its last `\\boxed{}` replaced by `answer`."""
    span = last_boxed_span(step)
    return step if span is None else step[:span[0]] + answer + step[span[1]:]


def is_off_track(state: dict[str, Any], problem: Problem, delimiter: str) -> bool:
    """Whether the numbers written so far differ from those of the gold steps so far."""
    _, gold_numbers = _gold(problem.payload.get("solution"), str(problem.answer), delimiter)
    n = state["n"]
    if n > len(gold_numbers):
        return True
    return list(state["numbers"]) != [x for step in gold_numbers[:n] for x in step]


def wrong_answer(gold: str, rng: random.Random) -> str:
    """The gold answer plus a nonzero delta (`18` -> `21`; `\\frac{1}{2}` -> `\\frac{1}{2}+3`)."""
    delta = rng.randint(1, 9)
    number = plain_number(gold)
    if number is None:
        return f"{gold}+{delta}"
    value = Decimal(number) + delta
    return str(value.quantize(Decimal(1))) if value == value.to_integral_value() else str(value)


def corrupt(step: str, rng: random.Random) -> str:
    """`step` with one number changed (or a wrong number added when it has none)."""
    matches = list(NUMBER.finditer(step))
    if not matches:
        return f"{step} That makes {rng.randint(2, 99)}."
    m = rng.choice(matches)
    value = Decimal(m.group().replace(",", "")) + rng.randint(1, 9)
    return step[:m.start()] + str(value) + step[m.end():]


def sample_step(state: dict[str, Any], rng: random.Random, error_rate: float, problem: Problem | None,
                delimiter: str) -> str:
    """The next scripted step from `state`: the gold step, or (off-track, or with probability
    `error_rate`) a corrupted one; a final step states a wrong answer then. Deterministic given `rng`."""
    if problem is None:
        raise ValueError("the math task's scripted steps replay the problem's gold solution: pass the "
                         "problem (request.meta['problem'])")
    steps = gold_steps(problem, delimiter)
    i = min(state["n"], len(steps) - 1)
    wrong = is_off_track(state, problem, delimiter) or rng.random() < error_rate
    if not wrong:
        return steps[i]
    if i == len(steps) - 1:
        return wrong_final_step(steps[i], str(problem.answer), wrong_answer(str(problem.answer), rng))
    return corrupt(steps[i], rng)


def wrong_final_step(step: str, gold: str, wrong: str) -> str:
    """The final step boxing `wrong`, its last written gold number changed to match, so the step
    reads as one consistent mistake (`= 17 cows. The answer is \\boxed{17}.`)."""
    step = replace_box(step, wrong)
    span = last_boxed_span(step)
    target = plain_number(gold)
    if span is None or target is None:
        return step
    head = step[:span[0]]
    same = [m for m in NUMBER.finditer(head) if m.group().replace(",", "") == target]
    if not same:
        return step
    m = same[-1]
    return head[:m.start()] + wrong + head[m.end():] + step[span[0]:]


def sample_rollout(state: dict[str, Any], rng: random.Random, error_rate: float, problem: Problem | None,
                   delimiter: str) -> str:
    """The remaining scripted steps from `state`, then `</think>` and the final answer: a whole completion."""
    if problem is None:
        raise ValueError("the math task's scripted rollouts replay the problem's gold solution: pass the problem")
    lines: list[str] = []
    current, answer = state, None
    for _ in range(len(gold_steps(problem, delimiter)) + 1):   # the last gold step states an answer
        line = sample_step(current, rng, error_rate, problem, delimiter)
        lines.append(line)
        answer = extract_answer(line)
        if answer is not None:
            break
        current = advance(current, line, None)
    return delimiter.join(lines) + f"\n{THINK_CLOSE}\n" + format_answer(answer if answer is not None else "?")
