"""Checks of the rows callers hand to the store, with errors that name the call, row and field.

Every part of `TraceStore` checks its input here before it opens a transaction, so bad input is
refused whole and nothing already stored is touched.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from db.engine import StoreError
from db.tables import NODE_DEFAULTS, NODE_FIELDS, NODE_REQUIRED

# Keys per IN (...) list: far below SQLite's bound-parameter limit and PostgreSQL's.
CHUNK = 500


def chunks(items: list, size: int = CHUNK) -> Iterator[list]:
    """`items` in consecutive slices of at most `size`: the keys of one IN (...) list each."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def check_fields(what: str, index: int, row: dict, allowed: Iterable[str], required: Iterable[str]) -> None:
    """Raise StoreError when row `index` of call `what` is not a dict, has a field outside `allowed`
    or lacks one of `required`."""
    if not isinstance(row, dict):
        raise StoreError(f"{what}: row {index} is a {type(row).__name__}, not a dict")
    unknown = sorted(set(row) - set(allowed))
    if unknown:
        raise StoreError(f"{what}: row {index} has unknown field(s) {unknown}; allowed: {sorted(allowed)}")
    missing = [key for key in required if key not in row]
    if missing:
        raise StoreError(f"{what}: row {index} lacks required field(s) {missing}")


def field(what: str, index: int, row: dict, key: str) -> Any:
    """`row[key]`, or StoreError naming call `what`, row `index` and the missing field."""
    try:
        return row[key]
    except (KeyError, TypeError):
        raise StoreError(f"{what}: row {index} lacks required field {key!r}") from None


def check_choice(what: str, name: str, value: Any, choices: Sequence[str]) -> None:
    """Raise StoreError when argument `name` of call `what` is not one of `choices`."""
    if value not in choices:
        raise StoreError(f"{what}: {name} must be one of {list(choices)}, got {value!r}")


_COMPLETE = frozenset(NODE_REQUIRED) | NODE_DEFAULTS.keys()   # a row that gives every column
_REQUIRED = frozenset(NODE_REQUIRED)


def node_rows(what: str, rows: Sequence[dict]) -> list[dict]:
    """`rows` checked as nodes rows and completed with the defaults of the fields they leave out.
    A row that gives every column (the explorer's) is passed on as it is, not copied: the store
    only reads it."""
    clean = []
    for i, row in enumerate(rows):
        # the full check only for a row that fails the quick ones: this runs for every node of a wave
        keys = row.keys()
        if keys == _COMPLETE:
            clean.append(row)
            continue
        if not keys <= NODE_FIELDS or not keys >= _REQUIRED:
            check_fields(what, i, row, NODE_FIELDS, NODE_REQUIRED)
        clean.append({**NODE_DEFAULTS, **row})
    return clean


def problem_row(index: int, row: dict) -> dict:
    """Row `index` of `add_problems` checked (non-empty dataset and key, a dict payload), with defaults."""
    check_fields("add_problems", index, row, {"dataset", "key", "split", "payload", "answer"}, ("dataset", "key", "payload"))
    for name in ("dataset", "key"):
        if not isinstance(row[name], str) or not row[name]:
            raise StoreError(f"add_problems: row {index} field {name!r} must be a non-empty string, got {row[name]!r}")
    if not isinstance(row["payload"], dict):
        raise StoreError(f"add_problems: row {index} field 'payload' must be a dict, got {type(row['payload']).__name__}")
    return {"split": "train", "answer": None, **row}


def lineage(**values: Any) -> dict[str, Any]:
    """The lineage columns given (not None) of a runs row, checked: a round is an integer >= 0."""
    given = {k: v for k, v in values.items() if v is not None}
    rnd = given.get("round")
    if rnd is not None and (isinstance(rnd, bool) or not isinstance(rnd, int) or rnd < 0):
        raise StoreError(f"runs.round must be an integer >= 0, got {rnd!r}")
    return given
