"""Reading Countdown problems from JSONL or Parquet files, with errors that name the bad row.

Each row has `nums` (a list of 1 to `MAX_NUMBERS` (6) integers in 0..`MAX_VALUE` (1,000,000)) and
`target` (an integer in 0..1,000,000), and optionally `split` (a non-empty string) and `id` (string
or integer). The limits are checked before the exact solver sees a row: its time grows about
30-fold per number (7 numbers take seconds, a few hundred would never return). JSONL lines are
counted from 1 (what an editor shows); Parquet rows from 0 (what pyarrow and pandas show).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from search.tasks.countdown.settings import MAX_NUMBERS, MAX_VALUE
from search.tasks.rows import LoadedRows, LongInteger, ProblemFileError, check_int, load_rows
from search.tasks.rows import is_int as _is_int
from search.tasks.rows import show as _show

__all__ = ["ProblemFileError", "ProblemRow", "ProblemFile", "validate_row", "load_problem_file"]


@dataclass
class ProblemRow:
    """One validated row."""

    nums: list[int]
    target: int
    split: str | None = None      # None: the task assigns the held-out-by-target split
    id: str | None = None
    where: str = ""               # "problems.jsonl line 3", for later messages


ProblemFile = LoadedRows


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
    shape = f"{where}: field 'nums' must be a non-empty list of non-negative integers, got {{}}"
    if not isinstance(nums, list) or not nums:
        raise ProblemFileError(shape.format(_show(nums)))
    if len(nums) > MAX_NUMBERS:
        raise ProblemFileError(f"{where}: field 'nums' has {len(nums):,} numbers; a problem has at most "
                               f"{MAX_NUMBERS} (the exact solver takes seconds from 7 on)")
    for n in nums:
        if isinstance(n, LongInteger):
            raise ProblemFileError(f"{where}: field 'nums' holds an integer of {n.digits:,} digits; "
                                   f"numbers are at most {MAX_VALUE:,}")
        if not _is_int(n) or n < 0:
            raise ProblemFileError(shape.format(_show(nums)))
        if n > MAX_VALUE:
            raise ProblemFileError(f"{where}: field 'nums' holds {n:,}; numbers are at most {MAX_VALUE:,}")
    target = row["target"]
    if isinstance(target, LongInteger) or _is_int(target) and target > MAX_VALUE:
        check_int(target, where, "target", 0, MAX_VALUE, "a non-negative integer")
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


def load_problem_file(path: str | Path, skip_bad_rows: bool = False) -> LoadedRows[ProblemRow]:
    """Validated rows of a `.jsonl` or `.parquet` Countdown problem file (see `search.tasks.rows`)."""
    return load_rows(path, validate_row, skip_bad_rows)
