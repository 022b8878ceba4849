"""Sudoku's answer frame: the whole solved grid inside `<answer>...</answer>`, one row per line."""
from __future__ import annotations

import re

ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"
ANSWER_MARKERS = (ANSWER_OPEN, ANSWER_CLOSE)


def format_answer(grid: str) -> str:
    """`<answer>\\n1234\\n3412\\n...\\n</answer>`: the grid's rows, one a line."""
    size = int(round(len(grid) ** 0.5))
    if size * size != len(grid) or size == 0:
        return f"{ANSWER_OPEN}{grid}{ANSWER_CLOSE}"
    rows = "\n".join(grid[r * size:(r + 1) * size] for r in range(size))
    return f"{ANSWER_OPEN}\n{rows}\n{ANSWER_CLOSE}"


def extract_answer(text: str) -> str | None:
    """The last complete answer's content with all whitespace removed (`1234341221434321`); None if absent."""
    end = text.rfind(ANSWER_CLOSE)
    if end < 0:
        return None
    start = text.rfind(ANSWER_OPEN, 0, end)
    if start < 0:
        return None
    return re.sub(r"\s+", "", text[start + len(ANSWER_OPEN):end])


def close_answer(text: str, finish_reason: str | None) -> str:
    """`text` with the `</answer>` stop string put back when generation stopped at it."""
    if finish_reason == "stop" and text.rfind(ANSWER_OPEN) > text.rfind(ANSWER_CLOSE):
        return text + ANSWER_CLOSE
    return text
