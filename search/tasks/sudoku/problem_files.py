"""Reading Sudoku puzzles from files, with errors that name the file, line and field.

Two formats, the common ones of public Sudoku sets:
- one puzzle per line (any suffix but `.csv`): size² characters, a digit for a given and `0` or `.`
  for a blank; blank lines and lines starting with `#` are skipped;
- `.csv` with a header naming a `puzzle` column (or `quizzes`, as the Kaggle sets) and optionally a
  `solution` (`solutions`) column and a `split` column.
Lines are counted from 1, the CSV header included (what an editor shows). Every puzzle is checked
before anything is written: its length for `task.size`, its characters, givens that already break
a rule, no solution, and more than one solution when `task.unique` asks for one.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from search.tasks.rows import ProblemFileError
from search.tasks.sudoku.grid import BLANK, rule_breaks, solves
from search.tasks.sudoku.solver import search

# A puzzle line is at most 81 characters (plus a solution in CSV); a line of kilobytes is a wrong file.
MAX_LINE_CHARS = 4096
PUZZLE_COLUMNS = ("puzzle", "quizzes", "quiz")
SOLUTION_COLUMNS = ("solution", "solutions")


@dataclass
class PuzzleRow:
    """One checked puzzle: its grid (0 for blanks), its solution and where it came from."""

    puzzle: str
    solution: str
    split: str | None
    where: str


def check_puzzle(text: str, where: str, size: int, unique: bool, solution: str | None = None) -> PuzzleRow:
    """The puzzle of one row, checked; ProblemFileError naming `where` and the field otherwise."""
    text = text.strip()
    if len(text) != size * size:
        raise ProblemFileError(f"{where}: field 'puzzle' has {len(text)} characters; a {size}x{size} puzzle "
                               f"(task.size={size}) has {size * size}")
    allowed = {str(d) for d in range(1, size + 1)} | {BLANK, "."}
    for i, ch in enumerate(text):
        if ch not in allowed:
            raise ProblemFileError(f"{where}: field 'puzzle' has {ch!r} at character {i + 1}; givens are digits "
                                   f"1-{size} and blanks are 0 or .")
    grid = text.replace(".", BLANK)
    broken = rule_breaks(grid)
    if broken:
        raise ProblemFileError(f"{where}: field 'puzzle': the givens break a rule ({broken[0]})")
    found = search(grid, "constrained", "hidden", limit=2)
    if found.cut_off:
        raise ProblemFileError(f"{where}: field 'puzzle': the solver gave up after {found.placements:,} placements")
    if not found.solutions:
        raise ProblemFileError(f"{where}: field 'puzzle' has no solution")
    if unique and len(found.solutions) > 1:
        raise ProblemFileError(f"{where}: field 'puzzle' has more than one solution (task.unique=true keeps "
                               "puzzles with exactly one; set task.unique=false to keep it)")
    if solution is not None and solution.strip():
        solution = solution.strip()
        if not solves(grid, solution):
            raise ProblemFileError(f"{where}: field 'solution' does not solve the puzzle (a complete {size}x{size} "
                                   "grid that keeps every given and breaks no rule)")
    else:
        solution = found.solutions[0]
    return PuzzleRow(grid, solution, None, where)


def _lines(path: Path):
    """(line number, text) of a UTF-8 text file; ProblemFileError for binary, non-UTF-8 or long lines."""
    with path.open("rb") as handle:
        for number, raw in enumerate(iter(lambda: handle.readline(MAX_LINE_CHARS + 1), b""), start=1):
            where = f"{path} line {number}"
            if b"\x00" in raw:
                raise ProblemFileError(f"{where}: binary data (a NUL byte), not a puzzle file")
            if len(raw) > MAX_LINE_CHARS and not raw.endswith(b"\n"):
                raise ProblemFileError(f"{where}: line longer than {MAX_LINE_CHARS:,} bytes; a puzzle is one "
                                       "line of at most 81 characters")
            try:
                yield number, raw.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\r\n")
            except UnicodeDecodeError as err:
                raise ProblemFileError(f"{where}: not UTF-8 text (byte {err.start + 1})") from err


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    lowered = [h.strip().lower() for h in header]
    return next((lowered.index(n) for n in names if n in lowered), None)


def _csv_rows(path: Path, size: int, unique: bool) -> list[PuzzleRow]:
    lines = list(_lines(path))
    if not lines:
        raise ProblemFileError(f"{path}: no puzzles in the file (it is empty)")
    header = next(csv.reader([lines[0][1]]))
    puzzle_at = _column(header, PUZZLE_COLUMNS)
    if puzzle_at is None:
        raise ProblemFileError(f"{path} line 1: no 'puzzle' column in the header {header[:6]}; a CSV puzzle "
                               "file names its columns puzzle[,solution][,split]")
    solution_at, split_at = _column(header, SOLUTION_COLUMNS), _column(header, ("split",))
    out = []
    for number, text in lines[1:]:
        if not text.strip():
            continue
        where = f"{path} line {number}"
        fields = next(csv.reader([text]))
        if len(fields) <= puzzle_at:
            raise ProblemFileError(f"{where}: field 'puzzle' is missing (the line has {len(fields)} fields)")
        pick = lambda at: fields[at] if at is not None and at < len(fields) else None  # noqa: E731
        row = check_puzzle(fields[puzzle_at], where, size, unique, pick(solution_at))
        split = (pick(split_at) or "").strip()
        row.split = split or None
        out.append(row)
    return out


def load_puzzle_file(path: str | Path, size: int, unique: bool) -> list[PuzzleRow]:
    """The checked puzzles of a one-per-line or `.csv` file (see the module doc)."""
    path = Path(path)
    if not path.is_file():
        raise ProblemFileError(f"{path}: puzzle file not found")
    if path.suffix.lower() == ".csv":
        rows = _csv_rows(path, size, unique)
    else:
        rows = [check_puzzle(text, f"{path} line {number}", size, unique)
                for number, text in _lines(path) if text.strip() and not text.lstrip().startswith("#")]
    if not rows:
        raise ProblemFileError(f"{path}: no puzzles in the file (it is empty or holds only blank lines and comments)")
    return rows
