"""Greedy accuracy split by whether the search the trace students imitate backtracks on the puzzle
(imports nothing of journeyforge; Python's sqlite3 only).

The preset's trees are a depth-first search over the blanks in reading order, each blank's legal
digits in ascending order (a digit is legal when it is not yet in the cell's row, column or box).
This script runs that same search on every held-out puzzle, written apart from the task's code, and
asks whether it ever hits a blank with no legal digit, i.e. whether its trace would hold a failure
and an `undo`. (The task's search also stops at any blank left without a digit, not only the next
one, so its failure counts can be lower; which puzzles backtrack agrees with the preset's 4,000 dfs
trajectories, every one.) On the puzzles where it does not, a student that places the first legal
digit, as the traces' first tries do, is right; where it does, that student is right only if it
backtracks. The second table counts the answers that write the search's first wrong try: the first
blank, along the solution, whose smallest legal digit is not the solution's.

    python docs/results/sudoku-lab/by_backtrack.py store.db [store.db ...]
"""
from __future__ import annotations

import sqlite3
import sys
from collections import defaultdict

from check_evals import units


def peers(size: int) -> list[set[int]]:
    """Each cell's row, column and box neighbours (the units of check_evals.py, this folder's checker)."""
    out: list[set[int]] = [set() for _ in range(size * size)]
    for unit in units(size):
        for cell in unit:
            out[cell] |= set(unit)
    return [near - {cell} for cell, near in enumerate(out)]


def search(puzzle: str) -> tuple[int, list[int]]:
    """(dead ends the reading-order, ascending-digit depth-first search meets, the solution it reaches)."""
    size = int(round(len(puzzle) ** 0.5))
    near = peers(size)
    grid = [int(ch) for ch in puzzle]
    blanks = [i for i, v in enumerate(grid) if v == 0]
    failures = 0

    def go(k: int) -> bool:
        nonlocal failures
        if k == len(blanks):
            return True
        cell = blanks[k]
        legal = [d for d in range(1, size + 1) if all(grid[p] != d for p in near[cell])]
        if not legal:
            failures += 1
            return False
        for d in legal:
            grid[cell] = d
            if go(k + 1):
                return True
        grid[cell] = 0
        return False

    if not go(0):
        raise ValueError(f"puzzle {puzzle} has no solution")
    return failures, grid


def first_wrong_try(puzzle: str) -> str | None:
    """The search's first wrong placement (`r2c3=1`), or None when it never backtracks."""
    size = int(round(len(puzzle) ** 0.5))
    near = peers(size)
    solution = search(puzzle)[1]
    grid = [int(ch) for ch in puzzle]
    for cell in (i for i, v in enumerate(grid) if v == 0):
        legal = [d for d in range(1, size + 1) if all(grid[p] != d for p in near[cell])]
        if legal[0] != solution[cell]:
            r, c = divmod(cell, size)
            return f"r{r + 1}c{c + 1}={legal[0]}"
        grid[cell] = solution[cell]
    return None


def main(paths: list[str]) -> None:
    print("| store | model | solved %, puzzles the search solves without a backtrack | solved %, puzzles it backtracks on |")
    print("|---|---|---|---|")
    for path in paths:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        rows = db.execute("SELECT e.model, json_extract(p.payload, '$.puzzle'), e.is_correct FROM evals e "
                          "JOIN problems p ON p.id = e.problem_id WHERE p.split = 'test' ORDER BY e.model").fetchall()
        cache: dict[str, bool] = {}
        tally: dict[str, dict[bool, list[int]]] = defaultdict(lambda: {False: [0, 0], True: [0, 0]})
        for model, puzzle, ok in rows:
            if puzzle not in cache:
                cache[puzzle] = search(puzzle)[0] > 0
            t = tally[model][cache[puzzle]]
            t[0] += bool(ok)
            t[1] += 1
        for model, t in tally.items():
            cells = [f"{100 * t[b][0] / t[b][1]:.1f} ({t[b][0]} of {t[b][1]})" if t[b][1] else "-" for b in (False, True)]
            print(f"| {path.rsplit('/', 1)[-1]} | {model} | {cells[0]} | {cells[1]} |")
        wrote: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for model, puzzle, answer in db.execute(
                "SELECT e.model, json_extract(p.payload, '$.puzzle'), e.prediction FROM evals e "
                "JOIN problems p ON p.id = e.problem_id WHERE p.split = 'test' ORDER BY e.model"):
            wrong = first_wrong_try(puzzle)
            if wrong is not None:
                think = (answer or "").split("</think>")[0]
                wrote[model][0] += wrong in (ln.strip() for ln in think.splitlines())
                wrote[model][1] += 1
        print("\n| store | model | answers that write the search's first wrong try, puzzles it backtracks on |")
        print("|---|---|---|")
        for model, (k, n) in wrote.items():
            print(f"| {path.rsplit('/', 1)[-1]} | {model} | {100 * k / n:.1f} ({k} of {n}) |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
