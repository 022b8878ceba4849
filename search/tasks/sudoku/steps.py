"""One Sudoku step: `r3c5=7` places the digit 7 in row 3, column 5 (both counted from 1).

Reading is tolerant of what small models write around a placement (spaces, `R3C5 = 7`, words before
it) and reads only up to a frame marker (`quote_model_text`). A placement outside the grid, a digit
the grid does not use, a filled cell (a given or an earlier placement) or a digit already in the
cell's row, column or box is invalid, with a reason naming the cell and the rule. A legal placement
after which the grid cannot be completed is a dead end (the exact oracle), with the contradiction
in words when one is already visible (`r2c3 can hold no digit`).
"""
from __future__ import annotations

import re
from typing import Any

from search.tasks.base import DEAD_END, INVALID, SOLUTION, VALID, StepResult, quote_model_text
from search.tasks.sudoku.answer import ANSWER_MARKERS
from search.tasks.sudoku.grid import BLANK, conflict, geometry, place, size_of
from search.tasks.sudoku.solver import choose, solvable

# Error kinds in `StepResult.info["error"]` for invalid steps.
UNPARSABLE, OUTSIDE, NOT_A_DIGIT, FILLED, RULE = "unparsable", "outside", "not_a_digit", "filled", "rule"
ERRORS = (UNPARSABLE, OUTSIDE, NOT_A_DIGIT, FILLED, RULE)

_STEP_RE = re.compile(r"r\s*(\d{1,3})\s*c\s*(\d{1,3})\s*[=:]\s*(\d{1,3})(?!\d)", re.IGNORECASE)
_UNPARSABLE_REASON = "it is not a placement of the form 'r3c5=7'"


def parse_step(text: str) -> tuple[int, int, int] | None:
    """(row, column, digit) of the first `r<row>c<col>=<digit>` in `text`, 1-based; None otherwise."""
    match = _STEP_RE.search(text)
    return None if match is None else tuple(int(g) for g in match.groups())


def format_step(cell: int, digit: int, size: int) -> str:
    """`r3c5=7`."""
    return f"r{cell // size + 1}c{cell % size + 1}={digit}"


def _invalid(reason: str, error: str, parsed: tuple[int, int, int] | None) -> StepResult:
    info: dict[str, Any] = {"error": error}
    if parsed is not None:
        info.update(row=parsed[0], col=parsed[1], digit=parsed[2])
    return StepResult(label=INVALID, state=None, reason=reason, terminal=True, reward=0.0, info=info)


def dead_end_reason(grid: str) -> str:
    """Why a grid the oracle rejects cannot be completed: the contradiction a forward check sees
    (`r2c3 can hold no digit`, `no cell of row 4 can hold 5`), or the oracle's verdict."""
    choice = choose(grid, "constrained", "hidden")
    if choice is not None and not choice.digits:
        return choice.why
    return "the grid can no longer be completed"


def apply_step(state: dict[str, Any], text: str, puzzle: str | None = None) -> StepResult:
    """Label one generated line against `state` (`{"grid": ...}`); `puzzle` words a given as one."""
    parsed = parse_step(quote_model_text(text, ANSWER_MARKERS))
    if parsed is None:
        return _invalid(_UNPARSABLE_REASON, UNPARSABLE, None)
    grid = state["grid"]
    size = size_of(grid)
    row, col, digit = parsed
    if not (1 <= row <= size and 1 <= col <= size):
        return _invalid(f"r{row}c{col} is outside the {size}x{size} grid", OUTSIDE, parsed)
    if not 1 <= digit <= size:
        return _invalid(f"{digit} is not a digit of a {size}x{size} grid (1-{size})", NOT_A_DIGIT, parsed)
    geo = geometry(size)
    cell = (row - 1) * size + col - 1
    name = geo.name(cell)
    if grid[cell] != BLANK:
        given = puzzle is not None and len(puzzle) == len(grid) and puzzle[cell] != BLANK
        return _invalid(f"{name} is a given ({grid[cell]})" if given else f"{name} already holds {grid[cell]}",
                        FILLED, parsed)
    clash = conflict(grid, cell, digit, geo)
    if clash is not None:
        unit, other = clash
        return _invalid(f"{unit} already has a {digit} ({geo.name(other)})", RULE, parsed)
    new = {"grid": place(grid, cell, digit)}
    info = {"row": row, "col": col, "digit": digit}
    line = format_step(cell, digit, size)
    complete = BLANK not in new["grid"]
    if complete:   # a full grid that breaks no rule solves the puzzle
        return StepResult(SOLUTION, new, terminal=True, reward=1.0, step=line, info=info, final=True)
    if not solvable(new["grid"]):
        return StepResult(DEAD_END, new, reason=dead_end_reason(new["grid"]), terminal=True, reward=0.0,
                          step=line, info=info)
    return StepResult(VALID, new, step=line, info=info)
