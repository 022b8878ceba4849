"""Stored values made fit to show: numbers that are numbers, texts that are texts, JSON that parses.

A shared store is not trusted. SQLite keeps any text in a number column (`nodes.visits =
'<img src=x onerror=...>'`), any column may hold a BLOB, and Python's json module reads `NaN` and
`Infinity` out of a JSON column although a browser's `JSON.parse` refuses them. The viewer reads
every value through `Cleaner`, which turns a number column's value into an int or float (or None
when it is not a number, counted per table.column so that the stage can say so) and a text column's
into a str; `plain` makes any nested value strict JSON. The pages escape every value as well: this
module keeps their arithmetic and sorting right, the escaping keeps them safe.
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Any


class Cleaner:
    """Coerces stored values by column kind; `bad` counts, per "table.column", the values that were
    not numbers where the schema says number (shown as missing)."""

    def __init__(self) -> None:
        self.bad: Counter = Counter()

    def _miss(self, column: str, value: Any) -> None:
        if value is not None:
            self.bad[column] += 1

    def integer(self, column: str, value: Any) -> int | None:
        """An integer column's value, or None."""
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        self._miss(column, value)
        return None

    def real(self, column: str, value: Any, digits: int | None = 4) -> float | None:
        """A real column's value (rounded to `digits`), or None; NaN and infinities are not numbers."""
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return round(float(value), digits) if digits is not None else float(value)
        self._miss(column, value)
        return None

    def flag(self, column: str, value: Any) -> bool:
        """A boolean column's value; a value that is neither 0/1 nor true/false counts as false."""
        if isinstance(value, (bool, int)) and value in (0, 1):
            return bool(value)
        self._miss(column, value)
        return False

    @staticmethod
    def text(value: Any) -> str | None:
        """A text column's value as a str (None stays None; a BLOB is decoded, never shown raw)."""
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value).decode("utf-8", "replace")
        return str(value)

    def ints(self, column: str, value: Any) -> list[int]:
        """A JSON list of ids (`trajectories.node_ids`): its integers; anything else is dropped."""
        if not isinstance(value, list):
            self._miss(column, value)
            return []
        out = [v for v in value if isinstance(v, int) and not isinstance(v, bool)]
        if len(out) != len(value):
            self.bad[column] += 1
        return out

    def summary(self) -> str:
        """'nodes.visits 3, rollouts.n_tokens 1' (most first), or '' when every value was a number."""
        return ", ".join(f"{column} {n}" for column, n in self.bad.most_common())


def plain(value: Any) -> Any:
    """`value` as strict JSON data: str keys, finite numbers (NaN and infinities -> None), lists,
    and text for anything else (bytes decoded), so that `json.dumps(..., allow_nan=False)` and a
    browser's JSON.parse both accept it."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {Cleaner.text(k) if not isinstance(k, str) else k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return Cleaner.text(value)
