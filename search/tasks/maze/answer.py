"""The maze's answer frame: the path from start to goal inside `<answer>...</answer>`, its cells
separated by spaces (`<answer>r1c1 r1c2 r2c2</answer>`).

The tags, finding the last complete answer and putting back a stop string are Countdown's frame
(search/tasks/countdown/answer.py), shared so that every task reads answers the same way; only the
spacing inside is the maze's."""
from __future__ import annotations

from search.tasks.countdown import answer as tags
from search.tasks.countdown.answer import ANSWER_CLOSE, ANSWER_MARKERS, ANSWER_OPEN, close_answer

__all__ = ["ANSWER_CLOSE", "ANSWER_MARKERS", "ANSWER_OPEN", "close_answer", "extract_answer", "format_answer"]


def format_answer(path: str) -> str:
    """`<answer>r1c1 r1c2 r2c2</answer>`."""
    return f"{ANSWER_OPEN}{' '.join(path.split())}{ANSWER_CLOSE}"


def extract_answer(text: str) -> str | None:
    """The last complete answer's content with runs of whitespace made one space; None if absent."""
    found = tags.extract_answer(text)
    return None if found is None else " ".join(found.split())
