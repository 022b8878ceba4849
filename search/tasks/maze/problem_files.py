"""Reading mazes from a file, with errors that name the file, line and field.

The format: one maze per line, its size² cells in reading order, one character each: `#` a wall,
`.` an open cell, `S` the start and `G` the goal (exactly one of each). Rows may be separated by `/`
(`S.#/..#/#.G`), and then each row has `task.size` cells. Blank lines are skipped; there are no
comment lines (a maze line may start with `#`). Lines are counted from 1 (what an editor shows).
Every maze is checked before anything is written: its length for `task.size`, its characters, one
start and one goal, and a way from the start to the goal.
"""
from __future__ import annotations

from pathlib import Path

from search.tasks.maze.grid import CELLS, GOAL, START, UNREACHABLE, goal_distances, name
from search.tasks.rows import ProblemFileError

# A maze line is at most 30 x 31 characters; a line of kilobytes is a wrong file.
MAX_LINE_CHARS = 4096


def _cells(text: str, where: str, size: int) -> str:
    """The maze's cells as one string, rows joined; ProblemFileError for a wrong length."""
    if "/" not in text:
        if len(text) != size * size:
            raise ProblemFileError(f"{where}: field 'maze' has {len(text)} characters; a {size}x{size} maze "
                                   f"(task.size={size}) has {size * size}")
        return text
    rows = text.split("/")
    if len(rows) != size:
        raise ProblemFileError(f"{where}: field 'maze' has {len(rows)} rows; a {size}x{size} maze (task.size={size}) "
                               f"has {size}")
    for r, row in enumerate(rows, start=1):
        if len(row) != size:
            raise ProblemFileError(f"{where}: field 'maze': row {r} has {len(row)} cells; a {size}x{size} maze "
                                   f"(task.size={size}) has {size}")
    return "".join(rows)


def check_maze(text: str, where: str, size: int) -> str:
    """The maze string of one line, checked; ProblemFileError naming `where` and the field otherwise."""
    maze = _cells(text.strip(), where, size)
    for i, ch in enumerate(maze):
        if ch not in CELLS:
            raise ProblemFileError(f"{where}: field 'maze' has {ch!r} at cell {name(i, size)}; cells are "
                                   "# (wall), . (open), S (start) and G (goal)")
    for mark, what in ((START, "start"), (GOAL, "goal")):
        count = maze.count(mark)
        if count != 1:
            raise ProblemFileError(f"{where}: field 'maze' has {count} {mark} cells; a maze has exactly one "
                                   f"{mark} ({what})")
    start, goal = maze.index(START), maze.index(GOAL)
    if goal_distances(maze)[start] == UNREACHABLE:
        raise ProblemFileError(f"{where}: field 'maze': the goal G ({name(goal, size)}) cannot be reached from "
                               f"the start S ({name(start, size)})")
    return maze


def _lines(path: Path):
    """(line number, text) of a UTF-8 text file; ProblemFileError for binary, non-UTF-8 or long lines."""
    with path.open("rb") as handle:
        for number, raw in enumerate(iter(lambda: handle.readline(MAX_LINE_CHARS + 1), b""), start=1):
            where = f"{path} line {number}"
            if b"\x00" in raw:
                raise ProblemFileError(f"{where}: binary data (a NUL byte), not a maze file")
            if len(raw) > MAX_LINE_CHARS and not raw.endswith(b"\n"):
                raise ProblemFileError(f"{where}: line longer than {MAX_LINE_CHARS:,} bytes; a maze is one line "
                                       "of at most 930 characters")
            try:
                yield number, raw.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\r\n")
            except UnicodeDecodeError as err:
                raise ProblemFileError(f"{where}: not UTF-8 text (byte {err.start + 1})") from err


def load_maze_file(path: str | Path, size: int) -> list[str]:
    """The checked mazes of a one-per-line file (see the module doc), in file order."""
    path = Path(path)
    if not path.is_file():
        raise ProblemFileError(f"{path}: maze file not found")
    mazes = [check_maze(text, f"{path} line {number}", size) for number, text in _lines(path) if text.strip()]
    if not mazes:
        raise ProblemFileError(f"{path}: no mazes in the file (it is empty or holds only blank lines)")
    return mazes
