"""OpenR's Math-Shepherd preprocessing, restated as rules for the tests (this is not OpenR's code).

Source read: openreasoner/openr at 54ae004c69623ebb9a97b22211d6b236033a710d (2025-01-17, MIT license),
`preprocess/src/preprocessors/math_shepherd.py` (`MathShepherdPreprocessor`, `convert_math_shepherd_item`,
`split_question_and_rationale`, `remove_step_tag_of_math_shepherd`, `extract_labels_of_math_shepherd`)
and `preprocess/src/data_types/math_shepherd.py` (`MathShepherdItem`: `input`, `label`, `task`, all
strings). What it does with one row:

1. it keeps only rows whose `input` holds `"Step 1: "` exactly once;
2. it unpacks `text.split("Step 1: ")` into question and rationale (two parts, else
   `ValueError: not enough values to unpack`, what journeyforge's old layout got on every row), strips
   the question, and splits the rationale at every match of `Step \\d*:`, stripping each piece; this for
   `input` and for `label`;
3. a step is its piece up to the first `ки`, stripped (with no `ки` the piece loses its last character);
4. a label is the last character of its stripped labelled piece when that is `+` or `-`; a row with
   any other is dropped;
5. the numbers of steps and labels must agree (an assertion).

OpenR is not on a package index, so its rules are restated here rather than imported; the test runs
them on every row of a real `prm_shepherd` export.
"""
from __future__ import annotations

import re

STEP_TAG = "ки"
STEP_SPLIT = re.compile(r"Step \d*:")


class OpenRRejects(ValueError):
    """A row OpenR's preprocessor would drop or stop on."""


def _question_and_pieces(text: str) -> tuple[str, list[str]]:
    parts = text.split("Step 1: ")
    if len(parts) != 2:  # OpenR: `question, rationale = string.split("Step 1: ")`
        raise OpenRRejects(f"{len(parts) - 1} 'Step 1: ' in the text: not enough (or too many) values to unpack")
    question, rationale = parts
    return question.strip(), [piece.strip() for piece in STEP_SPLIT.split(rationale)]


def read_row(row: dict) -> tuple[str, list[str], list[str]]:
    """(question, steps, labels) as OpenR's preprocessor reads a Math-Shepherd row; OpenRRejects for
    a row it would filter out, drop or fail on."""
    for column in ("input", "label", "task"):
        if not isinstance(row.get(column), str):
            raise OpenRRejects(f"`{column}` is not a string")
    if row["input"].count("Step 1: ") != 1:
        raise OpenRRejects("`input` does not hold 'Step 1: ' exactly once (filtered out)")
    question, tagged = _question_and_pieces(row["input"])
    _, labelled = _question_and_pieces(row["label"])
    steps = [piece[:piece.find(STEP_TAG)].strip() for piece in tagged]
    labels = [piece.strip()[-1:] if piece.strip()[-1:] in ("+", "-") else "" for piece in labelled]
    if "" in labels:
        raise OpenRRejects("a step has no +/- label (dropped)")
    if len(steps) != len(labels):
        raise OpenRRejects(f"{len(steps)} steps but {len(labels)} labels (assertion)")
    return question, steps, labels
