"""Gold solutions as steps: what few-shot examples show and the scripted policy replays.

A GSM8K solution is one step per line in either mode (calculator notes `<<48/2=24>>` removed). A
MATH solution (one with a `\\boxed{}`) is one step per sentence in line mode and one per paragraph
in paragraph mode, never cut inside `$...$`, `\\[...\\]` or an environment. The last step states
the final answer: a MATH solution's step with its last box (anything after it is dropped),
otherwise the last line with `format_answer(answer)` appended.
"""
from __future__ import annotations

import re

from search.tasks.math.answers import format_answer, strip_calculator_notes

_ASY = re.compile(r"\[asy\].*?\[/asy\]", re.DOTALL)     # Asymptote drawings: pictures, not steps
_BLANK = re.compile(r"\n\s*\n")


def _sentences(paragraph: str) -> list[str]:
    """`paragraph` cut after `.`, `!` or `?` + whitespace, outside math and braces."""
    out, start, i, n = [], 0, 0, len(paragraph)
    dollars = display = braces = 0
    while i < n:
        ch = paragraph[i]
        if ch == "\\" and i + 1 < n:
            two = paragraph[i:i + 2]
            if two in ("\\[", "\\("):
                display += 1
            elif two in ("\\]", "\\)"):
                display = max(0, display - 1)
            elif paragraph.startswith("\\begin{", i):
                display += 1
            elif paragraph.startswith("\\end{", i):
                display = max(0, display - 1)
            i += 2
            continue
        if ch == "$":
            dollars ^= 1
        elif ch == "{":
            braces += 1
        elif ch == "}":
            braces = max(0, braces - 1)
        elif (ch in ".!?" and not dollars and not display and not braces
              and i + 1 < n and paragraph[i + 1].isspace()):
            out.append(paragraph[start:i + 1])
            start = i + 1
        i += 1
    out.append(paragraph[start:])
    return [s for s in out if s.strip()]


def solution_steps(solution: str | None, answer: str, delimiter: str = "\n") -> list[str]:
    """The gold solution as a list of steps (none containing `delimiter`), the last stating `answer`."""
    if not solution or not solution.strip():
        return [format_answer(answer)]
    text = _ASY.sub("", strip_calculator_notes(solution)).strip()
    boxed = "\\boxed" in text
    paragraphs = [p.strip() for p in _BLANK.split(text) if p.strip()]
    if not boxed:       # GSM8K-style: a line is a step in either mode
        steps = [line.strip() for p in paragraphs for line in p.split("\n") if line.strip()]
    elif delimiter == "\n\n":
        steps = paragraphs
    else:
        steps = [" ".join(s.split()) for p in paragraphs for s in _sentences(p)]
    if not steps:
        return [format_answer(answer)]
    last_box = max((i for i, s in enumerate(steps) if "\\boxed" in s), default=None)
    if last_box is not None:
        return steps[:last_box + 1]
    last = steps[-1]
    joiner = " " if last.endswith((".", "!", "?")) else ". "
    return steps[:-1] + [last + joiner + format_answer(answer)]
