"""Reading Countdown problems from JSONL or Parquet files, with errors that name the bad row.

Each row has `nums` (non-empty list of non-negative integers) and `target` (non-negative
integer), and optionally `split` (a non-empty string) and `id` (string or integer). JSONL lines
are counted from 1 (what an editor shows); Parquet rows from 0 (what pyarrow and pandas show).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from search.tasks.rows import LoadedRows, ProblemFileError, load_rows
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


def load_problem_file(path: str | Path, skip_bad_rows: bool = False) -> LoadedRows[ProblemRow]:
    """Validated rows of a `.jsonl` or `.parquet` Countdown problem file (see `search.tasks.rows`)."""
    return load_rows(path, validate_row, skip_bad_rows)
