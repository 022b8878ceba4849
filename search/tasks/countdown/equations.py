"""Equations `a op b = c` in free text: the facts of a Countdown step that a rewrite must keep."""
from __future__ import annotations

import re
from fractions import Fraction

# One equation `a op b = c` (ints or decimals, unicode operators, optional minus on the result).
# Operands may not be the tail of a longer number, so "12 + 3 = 15" never reads as "2 + 3 = 15".
_NUM = r"\d+(?:\.\d+)?"
_OPS = {"+": "+", "-": "-", "\u2212": "-", "\u2013": "-", "*": "*", "x": "*", "\u00d7": "*",
        "\u00b7": "*", "/": "/", "\u00f7": "/"}
_EQUATION_RE = re.compile(
    rf"(?<![\d.])({_NUM})\s*([{re.escape(''.join(_OPS))}])\s*({_NUM})\s*=\s*([-\u2212\u2013]?)\s*({_NUM})(?![\d])"
)


def _number(text: str) -> Fraction:
    return Fraction(text)


def equations(text: str) -> list[str]:
    """Every `a op b = c` in `text`, in order, canonical ("3 * 8 = 24"; unicode operators read)."""
    out = []
    for a, op, b, sign, c in _EQUATION_RE.findall(text):
        value = -_number(c) if sign else _number(c)
        out.append(f"{_number(a)} {_OPS[op]} {_number(b)} = {value}")
    return out
