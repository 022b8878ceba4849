"""One Countdown step: read a generated line, check it against the rules, label it.

The line format the few-shot examples show (and exported data teaches) is
`28 - 18 = 10. Left: 5, 10`. Reading is tolerant of what small models actually write:
unicode operators (`−`, `×`, `÷`), `x` for times, missing spaces, words around the equation
(`Step 1: ...`) and a missing `Left:` list. A line that ran on past the step into a frame marker
(`9 + 5 = 14</think>`, `<answer>`, a chat template's `<|im_end|>`) is read, and shown in every
trajectory, up to the marker (`quote_model_text`); the node keeps the text as generated.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from search.tasks.base import DEAD_END, INVALID, SOLUTION, VALID, StepResult, quote_model_text
from search.tasks.countdown.answer import ANSWER_MARKERS
from search.tasks.countdown.solver import solvable, wrap

# Error kinds in `StepResult.info["error"]` for invalid steps.
UNPARSABLE = "unparsable"
ARITHMETIC = "arithmetic"
UNAVAILABLE = "unavailable"
INEXACT_DIVISION = "inexact_division"
NOT_POSITIVE = "not_positive"
WRONG_LEFT = "wrong_left"
ERRORS = (UNPARSABLE, ARITHMETIC, UNAVAILABLE, INEXACT_DIVISION, NOT_POSITIVE, WRONG_LEFT)

_OP_CHARS = {
    "+": "+",
    "-": "-", "\u2212": "-", "\u2013": "-", "\u2014": "-",
    "*": "*", "x": "*", "X": "*", "\u00d7": "*", "\u00b7": "*", "\u2217": "*", "\u22c5": "*",
    "/": "/", "\u00f7": "/", "\u2215": "/",
}
# Operands are bounded (18 digits) and may not be the tail of a longer number or a decimal, so
# `5 / 2 = 2.5` and a 40-digit number read as unparsable instead of as something else.
_INT = r"(?<![\d.])(\d{1,18})(?![\d]|\.\d)"
_STEP_RE = re.compile(
    _INT + r"\s*([" + re.escape("".join(_OP_CHARS)) + r"])\s*" + _INT
    + r"\s*=\s*([-\u2212\u2013]?)\s*(\d{1,18})(?![\d]|\.\d)"
)
_LEFT_RE = re.compile(r"(?:left|remaining)\s*(?:numbers?)?\s*[:=]?\s*([\[\]\d\s,]*)", re.IGNORECASE)
_UNPARSABLE_REASON = "it is not a step of the form 'a + b = c'"


@dataclass(frozen=True)
class ParsedStep:
    """The equation `a op b = c` of a line, and its `Left:` list when one is written."""

    a: int
    op: str                      # canonical: + - * /
    b: int
    c: int                       # as written (may be negative)
    left: tuple[int, ...] | None


def parse_step(text: str) -> ParsedStep | None:
    """The first `a op b = c` equation in `text` (and the `Left:` list after it), or None."""
    match = _STEP_RE.search(text)
    if match is None:
        return None
    a, op, b, sign, c = match.groups()
    left_match = _LEFT_RE.search(text, match.end())
    left = None
    if left_match is not None:
        values = re.findall(r"\d{1,18}", left_match.group(1))
        left = tuple(int(v) for v in values) if values else None
    value = -int(c) if sign else int(c)
    return ParsedStep(int(a), _OP_CHARS[op], int(b), value, left)


def format_nums(nums: list[int] | tuple[int, ...]) -> str:
    """`5, 10`."""
    return ", ".join(str(n) for n in nums)


def format_step(a: int, op: str, b: int, c: int, left: list[int] | tuple[int, ...]) -> str:
    """The canonical step line `a op b = c. Left: x, y`."""
    return f"{a} {op} {b} = {c}. Left: {format_nums(left)}"


def exact_value(a: int, op: str, b: int) -> Fraction | None:
    """`a op b` exactly; None for division by zero."""
    if op == "+":
        return Fraction(a + b)
    if op == "-":
        return Fraction(a - b)
    if op == "*":
        return Fraction(a * b)
    return None if b == 0 else Fraction(a, b)


def _missing(nums: list[int], a: int, b: int) -> int | None:
    """An operand that is not among `nums` (counting both when a == b), or None."""
    have = Counter(nums)
    for n in (a, b):
        if have[n] == 0:
            return n
        have[n] -= 1
    return None


def _invalid(reason: str, error: str, parsed: ParsedStep | None) -> StepResult:
    info: dict[str, Any] = {"error": error}
    if parsed is not None:
        info.update(a=parsed.a, op=parsed.op, b=parsed.b, c=parsed.c)
    return StepResult(label=INVALID, state=None, reason=reason, terminal=True, reward=0.0, info=info)


def next_state(state: dict[str, Any], a: int, op: str, b: int, c: int) -> dict[str, Any]:
    """The state after the legal step `a op b = c`: operands (and their expressions) replaced by c."""
    nums, exprs = list(state["nums"]), list(state["exprs"])
    i = nums.index(a)
    ea = exprs.pop(i)
    nums.pop(i)
    j = nums.index(b)
    eb = exprs.pop(j)
    nums.pop(j)
    return {"nums": nums + [c], "exprs": exprs + [f"{wrap(ea)} {op} {wrap(eb)}"], "target": state["target"]}


def apply_step(state: dict[str, Any], text: str) -> StepResult:
    """Label one generated line against `state`; never raises on model text (see module doc)."""
    parsed = parse_step(quote_model_text(text, ANSWER_MARKERS))
    if parsed is None:
        return _invalid(_UNPARSABLE_REASON, UNPARSABLE, None)
    a, op, b, c = parsed.a, parsed.op, parsed.b, parsed.c
    nums = list(state["nums"])
    missing = _missing(nums, a, b)
    if missing is not None:
        if a == b and missing == a and a in nums:
            return _invalid(f"there is only one {a} left", UNAVAILABLE, parsed)
        return _invalid(f"there is no {missing} left", UNAVAILABLE, parsed)
    value = exact_value(a, op, b)
    if value is None:
        return _invalid(f"{a} / {b} divides by zero", ARITHMETIC, parsed)
    if value.denominator != 1:
        return _invalid(f"{a} / {b} is not a whole number", INEXACT_DIVISION, parsed)
    if value <= 0:
        return _invalid(f"{a} {op} {b} is {value}, which is not positive", NOT_POSITIVE, parsed)
    if value != c:
        return _invalid(f"{a} {op} {b} is {value}, not {c}", ARITHMETIC, parsed)
    new = next_state(state, a, op, b, c)
    if parsed.left is not None and Counter(parsed.left) != Counter(new["nums"]):
        return _invalid(
            f"that leaves {format_nums(new['nums'])}, not {format_nums(parsed.left)}", WRONG_LEFT, parsed
        )
    info = {"a": a, "op": op, "b": b, "c": c}
    line = format_step(a, op, b, c, new["nums"])
    target = state["target"]
    if len(new["nums"]) == 1 and c == target:
        return StepResult(SOLUTION, new, terminal=True, reward=1.0, step=line, info=info, final=True)
    if not solvable(new["nums"], target):
        reason = (
            f"{c} is not {target}" if len(new["nums"]) == 1
            else f"{format_nums(new['nums'])} cannot make {target}"
        )
        return StepResult(DEAD_END, new, reason=reason, terminal=True, reward=0.0, step=line, info=info,
                          final=len(new["nums"]) == 1)
    return StepResult(VALID, new, step=line, info=info)
