"""Countdown's answer frame: the whole calculation as one expression inside `<answer>...</answer>`."""
from __future__ import annotations

ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"
# The answer frame's tags are frame markers: a step never shows them (`Task.answer_markers`).
ANSWER_MARKERS = (ANSWER_OPEN, ANSWER_CLOSE)


def format_answer(answer: str) -> str:
    """`<answer>(28 - 18) + 5</answer>`."""
    return f"{ANSWER_OPEN}{answer}{ANSWER_CLOSE}"


def extract_answer(text: str) -> str | None:
    """The content of the last complete <answer>...</answer> in `text`, stripped; None if absent."""
    end = text.rfind(ANSWER_CLOSE)
    if end < 0:
        return None
    start = text.rfind(ANSWER_OPEN, 0, end)
    if start < 0:
        return None
    return text[start + len(ANSWER_OPEN):end].strip()


def close_answer(text: str, finish_reason: str | None) -> str:
    """`text` with the `</answer>` stop string put back when generation stopped at it."""
    # Only a stop *string* leaves an answer open; an EOS stop or the length cap leaves it as written.
    if finish_reason == "stop" and text.rfind(ANSWER_OPEN) > text.rfind(ANSWER_CLOSE):
        return text + ANSWER_CLOSE
    return text
