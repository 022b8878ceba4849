"""Whether a trajectory's text is one well-formed trace: one reasoning frame, then one final answer.

Every SFT row teaches a model where its reasoning ends and what its answer looks like, and readers
split a completion at its first `</think>` (TRL's and vLLM's reasoning parsers, our own answer
reader). So an exported completion must be exactly `<think>`, reasoning that holds no frame marker
(`Task.frame_markers`: `<think>`, `</think>`, the task's answer tags, chat special tokens), one
`</think>`, and then the row's answer in the task's frame (`Task.format_answer`) and nothing else.
A failed search's stream (`linearize.stream.failed`) records no answer: after its `</think>` comes
nothing. The export checks every row with `frame_problem` and drops, with a count, the rows that
fail (issue 27).
"""
from __future__ import annotations

from search.tasks.base import THINK_CLOSE, THINK_OPEN, Task

# Categories of `frame_problem` (the text before its colon); the export counts dropped rows by these.
NO_FRAME = "no reasoning frame"
SECOND_FRAME = "more than one reasoning frame"
MARKER_INSIDE = "frame marker inside the reasoning"
ANSWER_MISMATCH = "not exactly one final answer"


def frame_problem(task: Task, text: str, answer: str | None) -> str | None:
    """Why `text` is not one well-formed trace ending in `answer` ("category: detail"), or None."""
    if not isinstance(text, str) or not text.lstrip().startswith(THINK_OPEN) or THINK_CLOSE not in text:
        return f"{NO_FRAME}: the text does not open with {THINK_OPEN} and close it with {THINK_CLOSE}"
    opens, closes = text.count(THINK_OPEN), text.count(THINK_CLOSE)
    if opens != 1 or closes != 1:
        return f"{SECOND_FRAME}: {opens} {THINK_OPEN} and {closes} {THINK_CLOSE}"
    body, _, tail = text.lstrip()[len(THINK_OPEN):].partition(THINK_CLOSE)
    marker = task.frame_markers.search(body)
    if marker is not None:
        return f"{MARKER_INSIDE}: {marker.group()!r}"
    want = "" if answer is None else task.format_answer(answer).strip()
    if tail.strip() != want:
        return f"{ANSWER_MISMATCH}: after {THINK_CLOSE} comes {_short(tail.strip())!r}, not {want!r}"
    return None


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


__all__ = ["ANSWER_MISMATCH", "MARKER_INSIDE", "NO_FRAME", "SECOND_FRAME", "frame_problem"]
