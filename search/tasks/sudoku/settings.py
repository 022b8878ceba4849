"""Settings of the Sudoku task (Hydra group `task`, file `journeyforge/conf/task/sudoku.yaml`)."""
from __future__ import annotations

from dataclasses import dataclass, field

from search.tasks.sudoku.grid import SIZES
from search.tasks.sudoku.solver import ORDERS, PROPAGATIONS

SOURCES = ("generate", "file")
PUZZLE_FORMATS = ("grid", "cells")
PROMPT_FORMATS = ("fewshot", "chat", "question")
# The most blanks a puzzle with one solution can have: 4x4 needs 4 givens, 6x6 8, 9x9 17.
MAX_BLANKS = {4: 12, 6: 28, 9: 64}
# Blanks when `task.blanks` is null: measured (docs/results/sudoku-lab/), most-constrained-first these
# need no guess (4x4, 6x6) or one in 7 puzzles (9x9); row by row most 4x4 and 6x6 puzzles need one.
DEFAULT_BLANKS = {4: 10, 6: 22, 9: 45}


@dataclass
class SudokuConfig:
    """Configuration of the Sudoku task (Hydra group `task`, registered as `sudoku`)."""

    name: str = field(default="sudoku", metadata={"help": "Registry name of the task."})
    dataset: str = field(default="sudoku", metadata={"help": "Value of `problems.dataset` for these problems."})
    source: str = field(default="generate", metadata={"help": "'generate' (seeded generator) or 'file' (puzzles at `path`)."})
    path: str | None = field(default=None, metadata={"help": "Puzzle file when source='file': one puzzle per line (size² characters, digits for givens, 0 or . for blanks) or a .csv with a `puzzle` column (and optionally `solution`, as the Kaggle Sudoku sets)."})
    size: int = field(default=6, metadata={"help": f"Grid size, one of {SIZES} (6x6 has boxes of 2 rows x 3 columns)."})
    blanks: int | None = field(default=None, metadata={"help": f"Blank cells per generated puzzle, at most {MAX_BLANKS} by size (past them no puzzle has one solution); null: {DEFAULT_BLANKS} by size."})
    min_guesses: int = field(default=0, metadata={"help": "Keep generated puzzles whose depth-first search (cell_order, propagation) makes at least this many wrong guesses."})
    max_guesses: int | None = field(default=None, metadata={"help": "... and at most this many (null: no limit)."})
    cell_order: str = field(default="constrained", metadata={"help": f"Which cell the symbolic search fills next, one of {ORDERS}: the blank with the fewest candidates, or the first blank row by row."})
    propagation: str = field(default="none", metadata={"help": f"One of {PROPAGATIONS}: 'hidden' places a digit that has one place left in a row, column or box before any guess."})
    puzzle_format: str = field(default="grid", metadata={"help": f"How a prompt shows the puzzle, one of {PUZZLE_FORMATS}: its rows (0 for blanks), or its givens as placements `r1c3=2` (the steps' own words)."})
    unique: bool = field(default=True, metadata={"help": "Puzzles (generated or read) must have exactly one solution."})
    n_train: int = field(default=64, metadata={"help": "Generated train problems."})
    n_test: int = field(default=32, metadata={"help": "Generated test problems (held out by a hash of the puzzle)."})
    test_fraction: float = field(default=0.2, metadata={"help": "Share of puzzles held out for the test split, by a hash of the puzzle (generator and file rows)."})
    seed: int = field(default=0, metadata={"help": "Generator seed."})
    prompt_format: str = field(default="fewshot", metadata={"help": "'fewshot' (two worked puzzles), 'chat' (rules as chat messages) or 'question' (the bare puzzle, for trained students)."})

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"task.source must be one of {SOURCES}, got {self.source!r}")
        if self.source == "file" and not self.path:
            raise ValueError("task.path is required when task.source='file'")
        if self.prompt_format not in PROMPT_FORMATS:
            raise ValueError(f"task.prompt_format must be one of {PROMPT_FORMATS}, got {self.prompt_format!r}")
        if self.puzzle_format not in PUZZLE_FORMATS:
            raise ValueError(f"task.puzzle_format must be one of {PUZZLE_FORMATS}, got {self.puzzle_format!r}")
        if self.size not in SIZES:
            raise ValueError(f"task.size must be one of {SIZES}, got {self.size}")
        if self.blanks is None:
            self.blanks = DEFAULT_BLANKS[self.size]
        if not 1 <= self.blanks <= MAX_BLANKS[self.size]:
            raise ValueError(f"task.blanks must be 1..{MAX_BLANKS[self.size]} for a {self.size}x{self.size} grid "
                             f"(more blanks leave no puzzle with one solution), got {self.blanks}")
        if self.cell_order not in ORDERS:
            raise ValueError(f"task.cell_order must be one of {ORDERS}, got {self.cell_order!r}")
        if self.propagation not in PROPAGATIONS:
            raise ValueError(f"task.propagation must be one of {PROPAGATIONS}, got {self.propagation!r}")
        if self.min_guesses < 0 or (self.max_guesses is not None and self.max_guesses < self.min_guesses):
            raise ValueError(f"task.min_guesses..max_guesses must satisfy 0 <= min <= max, got "
                             f"{self.min_guesses}..{self.max_guesses}")
        if not 0.0 <= self.test_fraction <= 1.0:
            raise ValueError(f"task.test_fraction must be in [0, 1], got {self.test_fraction}")
        if self.n_train < 0 or self.n_test < 0:
            raise ValueError(f"task.n_train and task.n_test must be >= 0, got {self.n_train}, {self.n_test}")
