"""Sudoku prompt texts: the question, few-shot completions and chat instructions.

The puzzle is shown one row per line with `0` for blanks, so that a tokenizer that reads digits one
by one (the laboratory's students) sees one token per cell and each row at a fixed place.
"""
from __future__ import annotations

from functools import lru_cache

from search.tasks.base import THINK_OPEN, Problem
from search.tasks.sudoku.answer import format_answer
from search.tasks.sudoku.grid import BOXES, place, rows_of
from search.tasks.sudoku.solver import choose
from search.tasks.sudoku.steps import format_step

N_EXAMPLES = 2
SYSTEM = "You solve Sudoku puzzles carefully, one placement at a time."


def rules(size: int) -> str:
    """The rules of a `size` x `size` Sudoku in words."""
    box_r, box_c = BOXES[size]
    return (f"Fill the {size}x{size} grid so that every row, every column and every box of {box_r} rows by "
            f"{box_c} columns holds each digit 1-{size} exactly once. 0 marks a blank; the given digits stay.")


FORMAT = ("Think inside <think> </think>, writing one placement per line in the form `r3c5=7` (row 3, "
          "column 5, digit 7). Then write the solved grid inside <answer> </answer>, one row per line.")


def question(puzzle: str, puzzle_format: str = "grid") -> str:
    """`Sudoku 4x4:\\n1020\\n...\\n` (`grid`), or the givens as placements, `Sudoku 4x4:\\nr1c1=1 r1c3=2 ...\\n`
    (`cells`: the words of the steps, which a small student matches without counting positions)."""
    size = int(round(len(puzzle) ** 0.5))
    if puzzle_format == "cells":
        givens = " ".join(format_step(c, int(d), size) for c, d in enumerate(puzzle) if d != "0")
        return f"Sudoku {size}x{size}:\n{givens}\n"
    return f"Sudoku {size}x{size}:\n" + "\n".join(rows_of(puzzle)) + "\n"


def solution_lines(puzzle: str, order: str, propagation: str) -> tuple[list[str], str] | None:
    """The placements of the task's search on its solution path (each cell the search fills, in its
    order, with the solution's digit) and the solved grid; None when the puzzle has no solution."""
    from search.tasks.sudoku.solver import search

    found = search(puzzle, order, propagation, limit=1)
    if not found.solutions:
        return None
    solution, grid, lines = found.solutions[0], puzzle, []
    size = int(round(len(puzzle) ** 0.5))
    while (choice := choose(grid, order, propagation)) is not None:
        digit = int(solution[choice.cell])
        lines.append(format_step(choice.cell, digit, size))
        grid = place(grid, choice.cell, digit)
    return lines, solution


@lru_cache(maxsize=16)
def example_puzzles(size: int, order: str, propagation: str) -> tuple[str, ...]:
    """Fixed solved examples per size (train split, never a test puzzle): one prefix for every prompt."""
    from search.tasks.sudoku.settings import SudokuConfig
    from search.tasks.sudoku.generator import generate_problems

    blanks = {4: 8, 6: 16, 9: 40}[size]
    cfg = SudokuConfig(size=size, blanks=blanks, n_train=N_EXAMPLES + 1, n_test=0, seed=12345,
                       cell_order=order, propagation=propagation, test_fraction=0.2)
    return tuple(p.payload["puzzle"] for p in generate_problems(cfg))


def worked_example(puzzle: str, order: str, propagation: str, puzzle_format: str = "grid") -> str:
    """One solved puzzle in the exported frame: question, `<think>` placements, `<answer>` grid."""
    lines, solution = solution_lines(puzzle, order, propagation)
    return question(puzzle, puzzle_format) + f"{THINK_OPEN}\n" + "\n".join(lines) + "\n</think>\n" + format_answer(solution)


def fewshot_prompt(problem: Problem, order: str, propagation: str, puzzle_format: str = "grid") -> str:
    """Two worked puzzles of the problem's size, then the problem and `<think>\\n`."""
    puzzle = problem.payload["puzzle"]
    shots = [p for p in example_puzzles(len(rows_of(puzzle)), order, propagation) if p != puzzle][:N_EXAMPLES]
    blocks = [worked_example(p, order, propagation, puzzle_format) for p in shots]
    return "\n\n".join(blocks) + "\n\n" + question(puzzle, puzzle_format) + f"{THINK_OPEN}\n"


def instructions(problem: Problem, puzzle_format: str = "grid") -> str:
    """Rules, format and the puzzle as one user message."""
    puzzle = problem.payload["puzzle"]
    return f"{rules(len(rows_of(puzzle)))}\n\n{FORMAT}\n\n{question(puzzle, puzzle_format)}"


def chat_messages(problem: Problem, order: str, propagation: str, puzzle_format: str = "grid") -> list[dict[str, str]]:
    """System and user messages: rules, format, one worked example, then the puzzle."""
    puzzle = problem.payload["puzzle"]
    size = len(rows_of(puzzle))
    example = worked_example(example_puzzles(size, order, propagation)[0], order, propagation, puzzle_format)
    user = f"{rules(size)}\n\n{FORMAT}\n\nExample:\n{example}\n\nNow solve this one:\n{question(puzzle, puzzle_format)}"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
