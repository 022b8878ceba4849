"""Sudoku's answer frame: the whole solved grid inside `<answer>...</answer>`, one row per line.

The tags, finding the last complete answer and putting back a stop string are Countdown's frame
(search/tasks/countdown/answer.py), shared so that both tasks read answers the same way; only the
layout of a grid and the whitespace inside it are Sudoku's."""
from __future__ import annotations

import re

from search.tasks.countdown import answer as tags
from search.tasks.countdown.answer import ANSWER_CLOSE, ANSWER_MARKERS, ANSWER_OPEN, close_answer

__all__ = ["ANSWER_CLOSE", "ANSWER_MARKERS", "ANSWER_OPEN", "close_answer", "extract_answer", "format_answer"]


def format_answer(grid: str) -> str:
    """`<answer>\\n1234\\n3412\\n...\\n</answer>`: the grid's rows, one a line."""
    size = int(round(len(grid) ** 0.5))
    if size * size != len(grid) or size == 0:
        return f"{ANSWER_OPEN}{grid}{ANSWER_CLOSE}"
    rows = "\n".join(grid[r * size:(r + 1) * size] for r in range(size))
    return f"{ANSWER_OPEN}\n{rows}\n{ANSWER_CLOSE}"


def extract_answer(text: str) -> str | None:
    """The last complete answer's content with all whitespace removed (`1234341221434321`); None if absent."""
    found = tags.extract_answer(text)
    return None if found is None else re.sub(r"\s+", "", found)
