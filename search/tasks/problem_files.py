"""Reading Countdown problems from JSONL or Parquet files, with errors that name the bad row.

Each row has `nums` (non-empty list of non-negative integers) and `target` (non-negative
integer), and optionally `split` (a non-empty string) and `id` (string or integer). JSONL lines
are counted from 1 (what an editor shows); Parquet rows from 0 (what pyarrow and pandas show).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

log = logging.getLogger(__name__)

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}


class ProblemFileError(ValueError):
    """A problem file, or one of its rows, cannot be used; the message names the file, row and field."""


@dataclass
class ProblemRow:
    """One validated row."""

    nums: list[int]
    target: int
    split: str | None = None      # None: the task assigns the held-out-by-target split
    id: str | None = None
    where: str = ""               # "problems.jsonl line 3", for later messages


@dataclass
class ProblemFile:
    """The valid rows of a file, and the errors of rows skipped with `skip_bad_rows=True`."""

    path: Path
    rows: list[ProblemRow]
    skipped: list[str] = field(default_factory=list)


def _show(value: Any) -> str:
    text = json.dumps(value, default=repr)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_int(value: Any) -> bool:
    # bool is an int subclass in Python, but `true` is not a number a user meant.
    return isinstance(value, int) and not isinstance(value, bool)


def validate_row(row: Any, where: str) -> ProblemRow:
    """A ProblemRow from one raw record; ProblemFileError naming `where` and the field otherwise."""
    if not isinstance(row, dict):
        raise ProblemFileError(f"{where}: expected an object with fields 'nums' and 'target', got {_show(row)}")
    for name in ("nums", "target"):
        if name not in row or row[name] is None:
            raise ProblemFileError(f"{where}: field {name!r} is missing")
    nums = row["nums"]
    if hasattr(nums, "tolist"):
        nums = nums.tolist()
    if not isinstance(nums, list) or not nums or not all(_is_int(n) and n >= 0 for n in nums):
        raise ProblemFileError(
            f"{where}: field 'nums' must be a non-empty list of non-negative integers, got {_show(nums)}"
        )
    target = row["target"]
    if not _is_int(target) or target < 0:
        raise ProblemFileError(f"{where}: field 'target' must be a non-negative integer, got {_show(target)}")
    split = row.get("split")
    if split is not None and (not isinstance(split, str) or not split.strip()):
        raise ProblemFileError(f"{where}: field 'split' must be a non-empty string, got {_show(split)}")
    ident = row.get("id")
    if ident is not None and not (isinstance(ident, str) or _is_int(ident)):
        raise ProblemFileError(f"{where}: field 'id' must be a string or an integer, got {_show(ident)}")
    return ProblemRow(
        nums=list(nums), target=target, split=split.strip() if split else None,
        id=None if ident is None else str(ident), where=where,
    )


def _jsonl_records(path: Path) -> Iterator[tuple[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            where = f"{path} line {number}"
            if not line.strip():
                continue
            try:
                yield where, json.loads(line)
            except json.JSONDecodeError as err:
                yield where, ProblemFileError(f"{where}: not valid JSON ({err.msg} at column {err.colno})")


def _parquet_records(path: Path) -> Iterator[tuple[str, Any]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as err:  # pyarrow raises several unrelated types for a corrupt file
        raise ProblemFileError(f"{path}: not a readable Parquet file ({err})") from err
    for number, record in enumerate(table.to_pylist()):
        yield f"{path} row {number}", record


def load_problem_file(path: str | Path, skip_bad_rows: bool = False) -> ProblemFile:
    """Validated rows of a `.jsonl` or `.parquet` problem file.

    A bad row raises ProblemFileError, or with `skip_bad_rows` is skipped, logged, and listed
    in `ProblemFile.skipped`.
    """
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise ProblemFileError(f"{path}: unknown problem file type {path.suffix!r}; use one of {sorted(FORMATS)}")
    if not path.is_file():
        raise ProblemFileError(f"{path}: problem file not found")
    records = _jsonl_records(path) if kind == "jsonl" else _parquet_records(path)
    result = ProblemFile(path=path, rows=[])
    for where, record in records:
        try:
            if isinstance(record, ProblemFileError):
                raise record
            result.rows.append(validate_row(record, where))
        except ProblemFileError as err:
            if not skip_bad_rows:
                raise
            result.skipped.append(str(err))
    if result.skipped:
        log.warning("%s: skipped %d bad rows (first: %s)", path, len(result.skipped), result.skipped[0])
    return result
