"""Sudoku grids as strings: geometry (rows, columns, boxes) per size, candidates and rule checks.

A grid is a string of size² characters in row-major order, a digit `1..size` for a filled cell and
`0` for a blank (the one-line format of public Sudoku sets, whose `.` the problem files read as 0).
Cells are numbered 0..size²-1; users and steps name them `r<row>c<col>`, counted from 1.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

# Box shape (rows, columns) per grid size: 6x6 Sudoku has boxes of 2 rows by 3 columns.
BOXES = {4: (2, 2), 6: (2, 3), 9: (3, 3)}
SIZES = tuple(BOXES)
BLANK = "0"


@dataclass(frozen=True)
class Geometry:
    """Rows, columns and boxes of one grid size, as tuples of cell numbers."""

    size: int
    units: tuple[tuple[str, tuple[int, ...]], ...]   # ("row 3", cells), ("column 1", ...), ("box 2", ...)
    peers: tuple[tuple[int, ...], ...]               # cells sharing a row, column or box with each cell
    unit_of: tuple[tuple[int, int, int], ...]        # each cell's (row, column, box) unit index

    def name(self, cell: int) -> str:
        """`r3c5` (1-based)."""
        return f"r{cell // self.size + 1}c{cell % self.size + 1}"


@lru_cache(maxsize=None)
def geometry(size: int) -> Geometry:
    """The geometry of a `size` x `size` grid (4, 6 or 9)."""
    if size not in BOXES:
        raise ValueError(f"a Sudoku grid is {', '.join(map(str, SIZES))} cells wide, not {size}")
    box_r, box_c = BOXES[size]
    rows = [tuple(r * size + c for c in range(size)) for r in range(size)]
    cols = [tuple(r * size + c for r in range(size)) for c in range(size)]
    boxes = []
    for br in range(0, size, box_r):
        for bc in range(0, size, box_c):
            boxes.append(tuple((br + i) * size + bc + j for i in range(box_r) for j in range(box_c)))
    units = ([(f"row {i + 1}", u) for i, u in enumerate(rows)] + [(f"column {i + 1}", u) for i, u in enumerate(cols)]
             + [(f"box {i + 1}", u) for i, u in enumerate(boxes)])
    unit_of = []
    for cell in range(size * size):
        r, c = divmod(cell, size)
        b = next(i for i, u in enumerate(boxes) if cell in u)
        unit_of.append((r, size + c, 2 * size + b))
    peers = tuple(tuple(sorted({p for k in unit_of[cell] for p in units[k][1]} - {cell})) for cell in range(size * size))
    return Geometry(size, tuple(units), peers, tuple(unit_of))


def size_of(grid: str) -> int:
    """The side of a grid string (16, 36 or 81 characters); ValueError for another length."""
    for size in SIZES:
        if len(grid) == size * size:
            return size
    raise ValueError(f"a Sudoku grid has {', '.join(str(s * s) for s in SIZES)} cells, not {len(grid)}")


def candidates(grid: str, cell: int, geo: Geometry | None = None) -> list[int]:
    """The digits a blank `cell` can hold without breaking a rule, ascending."""
    geo = geo or geometry(size_of(grid))
    used = {grid[p] for p in geo.peers[cell]}
    return [d for d in range(1, geo.size + 1) if str(d) not in used]


def conflict(grid: str, cell: int, digit: int, geo: Geometry | None = None) -> tuple[str, int] | None:
    """The first unit (in row, column, box order) where `digit` already stands, and the cell holding
    it, if placing `digit` at `cell` breaks a rule; None otherwise."""
    geo = geo or geometry(size_of(grid))
    for k in geo.unit_of[cell]:
        name, cells = geo.units[k]
        for other in cells:
            if other != cell and grid[other] == str(digit):
                return name, other
    return None


def rule_breaks(grid: str) -> list[str]:
    """Every unit in which a digit stands twice, in words (`row 2 has two 5s (r2c1, r2c4)`)."""
    geo = geometry(size_of(grid))
    out = []
    for name, cells in geo.units:
        seen: dict[str, int] = {}
        for cell in cells:
            d = grid[cell]
            if d == BLANK:
                continue
            if d in seen:
                out.append(f"{name} has two {d}s ({geo.name(seen[d])}, {geo.name(cell)})")
            else:
                seen[d] = cell
    return out


def place(grid: str, cell: int, digit: int) -> str:
    """`grid` with `digit` written at `cell`."""
    return grid[:cell] + str(digit) + grid[cell + 1:]


def rows_of(grid: str) -> list[str]:
    """The grid's rows, each a string of its digits (0 for blanks)."""
    size = size_of(grid)
    return [grid[r * size:(r + 1) * size] for r in range(size)]


def solves(puzzle: str, grid: str) -> bool:
    """Whether `grid` is a complete grid of `puzzle`'s size that keeps every given and breaks no rule."""
    if not isinstance(grid, str) or len(grid) != len(puzzle):
        return False
    size = size_of(puzzle)
    digits = {str(d) for d in range(1, size + 1)}
    if any(ch not in digits for ch in grid):
        return False
    if any(p != BLANK and p != g for p, g in zip(puzzle, grid)):
        return False
    return all({grid[c] for c in cells} == digits for _, cells in geometry(size).units)
