"""The depth-first Sudoku search the task's symbolic steps follow, and the exact oracle built on it.

`choose` picks the next cell and its candidate digits, as the symbolic policy does (`legal_steps`):
`constrained` takes the blank with the fewest candidates (Shah et al., arXiv 2409.10502: a solver's
most-constrained-first order is what makes Sudoku learnable), `row` the first blank in reading
order (a weaker search: measured, 6x6 puzzles that never need a guess most-constrained-first need
one row by row). Both check forward: a blank with no candidate left ends the branch. With
`propagation="hidden"` a digit that has one place left in a row, column or box is placed before any
guess. The oracle (`solvable`) and the generator's uniqueness check use the strongest setting; the
difficulty measure (`search_cost`) uses the task's own, so it counts the wrong guesses its trees hold.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from search.tasks.sudoku.grid import BLANK, candidates, geometry, place, size_of

ORDERS = ("constrained", "row")
PROPAGATIONS = ("none", "hidden")
# A search past this many placements is cut off (a 9x9 grid read row by row can take millions).
MAX_PLACEMENTS = 200_000


@dataclass(frozen=True)
class Choice:
    """The cell a search fills next and the digits it tries there, in order (empty: a dead end)."""

    cell: int
    digits: tuple[int, ...]
    why: str = ""          # for a dead end: which cell or unit has no room left, in words


def _hidden_single(grid: str, cands: dict[int, list[int]]) -> Choice | None:
    """A digit with one place left in some unit, or a digit with none (a dead end)."""
    geo = geometry(size_of(grid))
    for name, cells in geo.units:
        present = {grid[c] for c in cells}
        for d in range(1, geo.size + 1):
            if str(d) in present:
                continue
            places = [c for c in cells if grid[c] == BLANK and d in cands[c]]
            if not places:
                return Choice(cells[0], (), f"no cell of {name} can hold {d}")
            if len(places) == 1:
                return Choice(places[0], (d,))
    return None


def choose(grid: str, order: str = "constrained", propagation: str = "none") -> Choice | None:
    """The next cell and its digits (None: the grid is full)."""
    geo = geometry(size_of(grid))
    blanks = [c for c in range(len(grid)) if grid[c] == BLANK]
    if not blanks:
        return None
    cands = {c: candidates(grid, c, geo) for c in blanks}
    for c in blanks:
        if not cands[c]:
            return Choice(c, (), f"{geo.name(c)} can hold no digit")
    best = min(blanks, key=lambda c: len(cands[c])) if order == "constrained" else blanks[0]
    if propagation == "hidden" and len(cands[best]) > 1:
        single = _hidden_single(grid, cands)
        if single is not None:
            return single
    return Choice(best, tuple(cands[best]))


@dataclass
class SearchResult:
    """What one depth-first search found and what it cost."""

    solutions: list[str]
    placements: int = 0        # digits written before the search stopped
    wrong: int = 0             # of them, digits later undone (on no solution's path)
    cut_off: bool = False      # stopped at MAX_PLACEMENTS before it finished


def search(grid: str, order: str = "constrained", propagation: str = "hidden", limit: int = 1) -> SearchResult:
    """Depth-first search from `grid` until `limit` solutions are found (or the space is exhausted)."""
    result = SearchResult(solutions=[])

    def dfs(g: str) -> bool:        # True: stop (enough solutions, or cut off)
        choice = choose(g, order, propagation)
        if choice is None:
            result.solutions.append(g)
            return len(result.solutions) >= limit
        for d in choice.digits:
            if result.placements >= MAX_PLACEMENTS:
                result.cut_off = True
                return True
            result.placements += 1
            if dfs(place(g, choice.cell, d)):
                return True
        return False

    dfs(grid)
    if result.solutions:
        result.wrong = result.placements - grid.count(BLANK)
    return result


@lru_cache(maxsize=1 << 16)
def solvable(grid: str) -> bool:
    """Exact oracle: can `grid` still be completed without breaking a rule?"""
    return bool(search(grid, "constrained", "hidden", limit=1).solutions)


def count_solutions(grid: str, limit: int = 2) -> int:
    """The number of solutions of `grid`, counted up to `limit`."""
    return len(search(grid, "constrained", "hidden", limit=limit).solutions)


def search_cost(grid: str, order: str, propagation: str) -> SearchResult:
    """The task's own search on a puzzle until its first solution: placements and wrong guesses."""
    return search(grid, order, propagation, limit=1)
