"""The math answer frame: writing a final answer, and reading one back from any model text.

A final answer is written `The answer is \\boxed{18}.`; models also write GSM8K's `#### 18` and a
plain "The answer is 18", so all three are read. Everything here is linear in the text and never
raises: the text is untrusted model output (a 1 MB completion, 10,000 nested braces).
"""
from __future__ import annotations

import re

BOXED = ("\\boxed", "\\fbox")
ANSWER_PREFIX = "The answer is "

# A number as written in a step: `1,000`, `12.5`, `.50` (GSM8K writes `$.50`). Signs are left out
# on purpose: in `16-3` the `-` is an operator, not a sign.
NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)|\d+(?:\.\d+)?|\.\d+")
_PLAIN_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?")
_HASHES = re.compile(r"####[ \t]*([^\n]*)")
# After "answer is": a plain number (a currency sign allowed; not the start of `2\sqrt{2}`), else
# inline math `$...$` or `\(...\)`. Every repetition is bounded, so no model text makes it backtrack for long.
_ANSWER_IS = re.compile(
    r"answer\s{1,8}is\s{0,8}:?\s{0,8}("
    r"(?:\\?\$\s?)?[-+]?(?:\d[\d,]{0,40})?\.?\d{1,40}(?:\s?/\s?\d{1,40})?(?![\w\\^{}(])"
    r"|\$[^$\n]{1,200}\$|\\\(.{1,200}?\\\))",
    re.IGNORECASE,
)
_CALCULATOR_NOTE = re.compile(r"<<[^<>\n]*>>")


def format_answer(answer: str) -> str:
    """`The answer is \\boxed{18}.`: what `extract_answer` reads back as `18`."""
    return f"{ANSWER_PREFIX}\\boxed{{{answer}}}."


def _box_start(text: str) -> tuple[int, int] | None:
    """(start of the last `\\boxed`/`\\fbox`, index just after its name), or None."""
    best = None
    for name in BOXED:
        i = text.rfind(name)
        # `\boxedfoo` is another command; `\boxed{` and `\boxed {` are boxes.
        while i >= 0 and i + len(name) < len(text) and text[i + len(name)].isalpha():
            i = text.rfind(name, 0, i)
        if i >= 0 and (best is None or i > best[0]):
            best = (i, i + len(name))
    return best


def last_boxed_span(text: str) -> tuple[int, int] | None:
    """(start, end) of the content of the LAST `\\boxed{...}` in `text`, found by counting braces (a
    regex cannot match nested braces); None when there is no box, or the last one is never closed."""
    start = _box_start(text)
    if start is None:
        return None
    i = start[1]
    while i < len(text) and text[i] in " \t":
        i += 1
    if i >= len(text) or text[i] != "{":
        return None
    depth, j = 0, i
    while j < len(text):
        ch = text[j]
        if ch == "\\":          # `\{` and `\}` are literal braces (sets), not grouping
            j += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1, j
        j += 1
    return None


def last_boxed(text: str) -> str | None:
    """The content of the last `\\boxed{...}` in `text`, stripped (see `last_boxed_span`)."""
    span = last_boxed_span(text)
    return None if span is None else text[span[0]:span[1]].strip()


def has_open_box(text: str) -> bool:
    """Whether `text` has a `\\boxed` whose braces are never closed (a cut-off or broken answer)."""
    return _box_start(text) is not None and last_boxed(text) is None


def plain_number(text: str) -> str | None:
    """`text` as a plain decimal string when it is just a number (`$1,000.`, ` 18 `), else None."""
    s = text.strip().replace("\\$", "").replace("$", "").strip().rstrip(".").strip()
    if not s or not _PLAIN_NUMBER.fullmatch(s) or not any(c.isdigit() for c in s):
        return None
    return s.replace(",", "").lstrip("+")


def _clean(answer: str) -> str:
    """An answer read from `####` or "the answer is": `$...$` unwrapped, commas of plain numbers dropped."""
    s = answer.strip()
    if len(s) >= 2 and s[0] == "$" and s[-1] == "$":
        s = s[1:-1].strip()
    elif s.startswith("\\(") and s.endswith("\\)"):
        s = s[2:-2].strip()
    return plain_number(s) or s.rstrip(".").strip()


def extract_answer(text: str) -> str | None:
    """The final answer `text` states, or None.

    The last complete `\\boxed{}` wins; without one, the last `#### n` (GSM8K's own format); without
    that, the last "the answer is n". Never raises on model text.
    """
    if not isinstance(text, str) or not text:
        return None
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed
    if _box_start(text) is not None:
        return None         # the last answer is a box that is never closed: unreadable, not an older one
    hashes = [m.group(1) for m in _HASHES.finditer(text) if m.group(1).strip()]
    if hashes:
        return _clean(hashes[-1])
    said = None
    for said in _ANSWER_IS.finditer(text):
        pass
    return _clean(said.group(1)) if said else None


def strip_calculator_notes(text: str) -> str:
    """GSM8K's `<<48/2=24>>` calculator notes removed: `48/2=<<48/2=24>>24` -> `48/2=24`."""
    return _CALCULATOR_NOTE.sub("", text)


def numbers(text: str) -> list[str]:
    """The numbers written in `text`, commas dropped (`$1,200` -> `1200`), calculator notes ignored."""
    return [m.replace(",", "") for m in NUMBER.findall(strip_calculator_notes(text))]
