"""Reading problem rows from JSONL or Parquet files, with errors that name the file, line and field.

Every task's file loader reads through `read_records` and reports bad rows with `RowError`, so the
rules are the same for every domain: JSONL lines are counted from 1 (what an editor shows), Parquet
rows from 0 (what pyarrow and pandas show); a binary or non-UTF-8 file, an over-long line, an
integer too long to convert or an unreadable Parquet file is one clear error, never a traceback;
`skip_bad_rows` skips and counts. A file with no usable row (empty, or every row skipped) is an error:
it would otherwise make a run of 0 trees.

Limits (a problem is a few hundred bytes; anything far past these is a wrong file, and reading it
as a problem would take the time and memory a user does not expect):
- a JSONL line is at most `MAX_LINE_BYTES` (1 MiB); a longer one is never held in memory whole;
- a JSON integer has at most `MAX_INT_DIGITS` (100) digits; a longer one is read as `LongInteger`
  (its digit count), so the task's row check can name the field instead of Python's int conversion
  failing (more than 4,300 digits) or the task doing arithmetic on it.
Tasks add their own limits per field (`check_int`), checked before anything else runs on a row.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Generic, Iterable, Iterator, TypeVar

log = logging.getLogger(__name__)

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
# A problem is a few kilobytes; a line of megabytes is a wrong file, and json.loads on it (or a
# solver on what it holds) would take the time a user does not expect.
MAX_LINE_BYTES = 1 << 20
MAX_INT_DIGITS = 100
# A binary file is recognised by a NUL byte in its first block (text never has one).
_SNIFF_BYTES = 8192

R = TypeVar("R")


class ProblemFileError(ValueError):
    """A problem file, or one of its rows, cannot be used; the message names the file, row and field."""


RowError = ProblemFileError


@dataclass
class LoadedRows(Generic[R]):
    """The valid rows of a file, and the errors of rows skipped with `skip_bad_rows=True`."""

    path: Path
    rows: list[R]
    skipped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LongInteger:
    """A JSON integer of more than `MAX_INT_DIGITS` digits, kept only as its digit count."""

    digits: int

    def __repr__(self) -> str:
        return f"<integer of {self.digits:,} digits>"


def _parse_int(text: str) -> int | LongInteger:
    digits = len(text) - text.startswith("-")
    return int(text) if digits <= MAX_INT_DIGITS else LongInteger(digits)


def check_int(value: Any, where: str, name: str, low: int, high: int, what: str = "an integer") -> int:
    """`value` as an int in `low..high`, else ProblemFileError naming `where` and field `name`."""
    if isinstance(value, LongInteger):
        raise ProblemFileError(f"{where}: field {name!r} holds an integer of {value.digits:,} digits; "
                               f"it must be {what} in {low:,}..{high:,}")
    if not is_int(value) or not low <= value <= high:
        raise ProblemFileError(f"{where}: field {name!r} must be {what} in {low:,}..{high:,}, got {show(value)}")
    return value


def show(value: Any) -> str:
    """A value for an error message, cut to 60 characters."""
    text = json.dumps(value, default=repr)
    return text if len(text) <= 60 else text[:57] + "..."


def is_int(value: Any) -> bool:
    """An int that is not a bool (`true` is not a number a user meant)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _lines(handle) -> Iterator[tuple[bytes, int]]:
    """(line, its length in bytes); a line over MAX_LINE_BYTES comes back empty, read in chunks."""
    while raw := handle.readline(MAX_LINE_BYTES + 1):
        size = len(raw)
        if size > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):
                raw = handle.readline(MAX_LINE_BYTES)
                size += len(raw)
            yield b"", size
        else:
            yield raw, size


def _jsonl_records(path: Path) -> Iterator[tuple[str, Any]]:
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
        if b"\x00" in head:
            line = head.count(b"\n", 0, head.index(b"\x00")) + 1
            raise ProblemFileError(f"{path} line {line}: binary data (a NUL byte), not a problem file; "
                                   "a .jsonl problem file is UTF-8 text with one JSON object per line")
        handle.seek(0)
        for number, (raw, size) in enumerate(_lines(handle), start=1):
            where = f"{path} line {number}"
            if size > MAX_LINE_BYTES:
                yield where, ProblemFileError(f"{where}: line is {size:,} bytes, more than the "
                                              f"{MAX_LINE_BYTES:,} a problem may take")
                continue
            if b"\x00" in raw:
                raise ProblemFileError(f"{where}: binary data (a NUL byte); a problem file is UTF-8 JSONL text")
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")  # a BOM is not an error
            except UnicodeDecodeError as err:
                yield where, ProblemFileError(f"{where}: not UTF-8 text (byte {err.start + 1} is {raw[err.start]:#04x})")
                continue
            if not line.strip():
                continue
            try:
                yield where, json.loads(line, parse_int=_parse_int)
            except json.JSONDecodeError as err:
                yield where, ProblemFileError(f"{where}: not valid JSON ({err.msg} at column {err.colno})")
            except (ValueError, RecursionError) as err:  # e.g. nesting deeper than Python's stack
                yield where, ProblemFileError(f"{where}: cannot be read as JSON ({' '.join(str(err).split())[:120]})")


def _parquet_records(path: Path) -> Iterator[tuple[str, Any]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as err:  # pyarrow raises several unrelated types for a corrupt file
        raise ProblemFileError(f"{path}: not a readable Parquet file ({' '.join(str(err).split())[:200]})") from err
    for number, record in enumerate(table.to_pylist()):
        yield f"{path} row {number}", record


def read_records(path: str | Path) -> Iterator[tuple[str, Any]]:
    """(where, record) for every non-empty row of a `.jsonl` or `.parquet` file; a record that
    cannot be read is yielded as a `ProblemFileError` (so callers may skip it)."""
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise ProblemFileError(f"{path}: unknown problem file type {path.suffix!r}; use one of {sorted(FORMATS)}")
    if not path.is_file():
        raise ProblemFileError(f"{path}: problem file not found")
    return _jsonl_records(path) if kind == "jsonl" else _parquet_records(path)


def load_rows(path: str | Path, validate: Callable[[Any, str], R], skip_bad_rows: bool = False,
              records: Iterable[tuple[str, Any]] | None = None) -> LoadedRows[R]:
    """`validate(record, where)` over every row of a problem file (or over `records`, the file's
    rows already read with `read_records`, for a loader that looks at the whole file first).

    A bad row raises ProblemFileError, or with `skip_bad_rows` is skipped, logged, and listed in
    `LoadedRows.skipped`. A file without a usable row is an error (see `check_not_empty`).
    """
    result: LoadedRows[R] = LoadedRows(path=Path(path), rows=[])
    for where, record in read_records(path) if records is None else records:
        try:
            if isinstance(record, ProblemFileError):
                raise record
            result.rows.append(validate(record, where))
        except ProblemFileError as err:
            if not skip_bad_rows:
                raise
            result.skipped.append(str(err))
    check_not_empty(result)
    if result.skipped:
        log.warning("%s: skipped %d bad rows (first: %s)", path, len(result.skipped), result.skipped[0])
    return result


def check_not_empty(loaded: LoadedRows) -> None:
    """ProblemFileError when `loaded` kept no row: an empty file (or one of blank lines), or one whose
    every row was skipped as bad. Either would otherwise make a run of 0 trees that looks finished."""
    if loaded.rows:
        return
    if loaded.skipped:
        raise ProblemFileError(f"{loaded.path}: no usable problem: all {len(loaded.skipped):,} rows are bad and "
                               f"were skipped (task.skip_bad_rows); the first: {loaded.skipped[0]}")
    if FORMATS.get(loaded.path.suffix.lower()) == "parquet":
        raise ProblemFileError(f"{loaded.path}: no problems in the file (the Parquet table has no rows)")
    raise ProblemFileError(f"{loaded.path}: no problems in the file (it is empty or holds only blank lines); "
                           "a .jsonl problem file has one JSON object per line")


class DuplicateRows:
    """Rows of one load that repeat an earlier row's problem (same canonical form, or same normalised
    text), merged into the first: for each such problem, the file and line kept and those merged into
    it. Where the copies disagree on the split, the problem stays held out (`test`): a held-out problem
    copied into the training rows must not become a training problem (`held_out` marks those)."""

    def __init__(self) -> None:
        self.groups: dict[str, dict[str, Any]] = {}

    def add(self, problem: str, kept: str, merged: str, held_out: bool = False) -> None:
        """Row `merged` repeats problem `problem`, first read at `kept`."""
        group = self.groups.setdefault(problem, {"problem": problem, "kept": kept, "merged": [], "held_out": False})
        group["merged"].append(merged)
        group["held_out"] = group["held_out"] or held_out

    @property
    def rows_merged(self) -> int:
        """How many rows were merged into an earlier one."""
        return sum(len(g["merged"]) for g in self.groups.values())

    @property
    def held_out_copies(self) -> int:
        """How many problems were held out and also given as training rows."""
        return sum(g["held_out"] for g in self.groups.values())

    def report(self) -> list[dict[str, Any]]:
        """One dict per duplicated problem: `problem`, `kept` (file and line), `merged` (theirs), `held_out`."""
        return list(self.groups.values())

    def log(self, path: Any) -> None:
        """One warning line for the load, when it merged anything."""
        if self.groups:
            first = next(iter(self.groups.values()))
            log.warning("%s: %d duplicate rows merged into %d problems (%d held-out problems also given as "
                        "training rows, kept held out); the first: %s repeats %s", path, self.rows_merged,
                        len(self.groups), self.held_out_copies, first["merged"][0], first["kept"])
