"""Seeded Sudoku puzzles with one solution, a number of blanks and a range of wrong guesses.

4x4 and 9x9 puzzles come from reasoning-gym's `mini_sudoku` and `sudoku` generators (a random
solved grid, cells emptied in random order while the solution stays unique); reasoning-gym has no
6x6, which `carve` makes the same way. A draw that could not reach the asked number of blanks, or
whose search (the task's cell order and propagation) makes a number of wrong guesses outside
`min_guesses..max_guesses`, is dropped. The split is a hash of the puzzle, so a test puzzle is never
a training puzzle, whatever the seed or file.
"""
from __future__ import annotations

import hashlib
import random
from typing import TYPE_CHECKING

from search.tasks.base import Problem
from search.tasks.sudoku.grid import BLANK, candidates, geometry, place
from search.tasks.sudoku.solver import count_solutions, search, search_cost

if TYPE_CHECKING:
    from search.tasks.sudoku.settings import SudokuConfig

# reasoning-gym's datasets are virtual: item i is drawn from Random(seed + i), any i below `size`.
_VIRTUAL = 10**9


def is_held_out(puzzle: str, test_fraction: float) -> bool:
    """Whether `puzzle` (its grid string) belongs to the test split, by a hash of the puzzle alone."""
    digest = hashlib.sha256(f"sudoku-puzzle:{puzzle}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < test_fraction


def split_of(puzzle: str, test_fraction: float) -> str:
    """`"test"` for held-out puzzles, `"train"` otherwise."""
    return "test" if is_held_out(puzzle, test_fraction) else "train"


def solved_grid(size: int, rng: random.Random) -> str:
    """A random complete grid: depth-first filling with digits in a random order per cell."""
    def fill(g: str) -> str | None:
        cell = g.find(BLANK)
        if cell < 0:
            return g
        digits = candidates(g, cell)
        rng.shuffle(digits)
        for d in digits:
            done = fill(place(g, cell, d))
            if done:
                return done
        return None

    geometry(size)
    return fill(BLANK * size * size)


def carve(solution: str, blanks: int, rng: random.Random) -> str:
    """`solution` with cells emptied in random order while the puzzle keeps one solution; fewer than
    `blanks` blanks when no further cell can go."""
    puzzle, removed = solution, 0
    cells = list(range(len(solution)))
    rng.shuffle(cells)
    for cell in cells:
        if removed == blanks:
            break
        trial = place(puzzle, cell, 0)
        if count_solutions(trial, 2) == 1:
            puzzle, removed = trial, removed + 1
    return puzzle


class Draws:
    """Puzzle draws for one config: reasoning-gym for 4x4 and 9x9, `carve` for 6x6."""

    def __init__(self, cfg: "SudokuConfig"):
        self.cfg = cfg
        self.dataset = None
        if cfg.size in (4, 9):
            import reasoning_gym

            name = "mini_sudoku" if cfg.size == 4 else "sudoku"
            self.dataset = reasoning_gym.create_dataset(name, min_empty=cfg.blanks, max_empty=cfg.blanks,
                                                        seed=cfg.seed, size=_VIRTUAL)

    def __call__(self, i: int) -> tuple[str, str]:
        """Draw `i`: (puzzle, solution) as grid strings."""
        if self.dataset is not None:
            meta = self.dataset[i]["metadata"]
            flat = lambda rows: "".join(str(x) for row in rows for x in row)  # noqa: E731
            return flat(meta["puzzle"]), flat(meta["solution"])
        rng = random.Random(f"sudoku-{self.cfg.size}-{self.cfg.seed}-{i}")
        solution = solved_grid(self.cfg.size, rng)
        return carve(solution, self.cfg.blanks, rng), solution


def make_problem(puzzle: str, solution: str, split: str, dataset: str, extra: dict | None = None) -> Problem:
    """A Problem keyed by its puzzle string, with the solution as its gold answer."""
    payload = {"puzzle": puzzle, "size": int(len(puzzle) ** 0.5), **(extra or {})}
    return Problem(key=puzzle, payload=payload, answer=solution, split=split, dataset=dataset)


def generate_problems(cfg: "SudokuConfig") -> list[Problem]:
    """`cfg.n_train` train and `cfg.n_test` test puzzles, distinct, seeded by `cfg.seed`, each with
    `cfg.blanks` blanks and a search cost in `min_guesses..max_guesses` wrong guesses."""
    draw = Draws(cfg)
    wanted = {"train": cfg.n_train, "test": cfg.n_test}
    found: dict[str, list[Problem]] = {"train": [], "test": []}
    seen: set[str] = set()
    max_draws = 200 + 50 * (cfg.n_train + cfg.n_test)
    for i in range(max_draws):
        if all(len(found[s]) >= wanted[s] for s in wanted):
            break
        puzzle, solution = draw(i)
        split = split_of(puzzle, cfg.test_fraction)
        if puzzle in seen or len(found[split]) >= wanted[split] or puzzle.count(BLANK) != cfg.blanks:
            continue
        cost = search_cost(puzzle, cfg.cell_order, cfg.propagation)
        if cost.wrong < cfg.min_guesses or (cfg.max_guesses is not None and cost.wrong > cfg.max_guesses):
            continue
        seen.add(puzzle)
        found[split].append(make_problem(puzzle, solution, split, cfg.dataset,
                                         {"placements": cost.placements, "guesses": cost.wrong}))
    else:
        raise ValueError(
            f"generated only {len(found['train'])} of task.n_train={cfg.n_train} and {len(found['test'])} of "
            f"task.n_test={cfg.n_test} puzzles in {max_draws:,} draws with task.blanks={cfg.blanks} and "
            f"{cfg.min_guesses}..{cfg.max_guesses} wrong guesses: lower task.min_guesses, change task.blanks "
            f"or task.cell_order, or ask for fewer")
    return found["train"] + found["test"]


def check_unique(puzzle: str) -> int:
    """The number of solutions of `puzzle`, up to 2 (for callers that check files)."""
    return len(search(puzzle, "constrained", "hidden", limit=2).solutions)
