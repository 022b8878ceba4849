"""The Sudoku task: grids of 4, 6 (boxes of 2 rows x 3 columns) or 9, one placement per step.

The state is JSON, `{"grid": "1020..."}` (size² characters, 0 for blanks). A step places one digit
(`r3c5=7`); the exact oracle (a depth-first solver) labels a legal placement a dead end as soon as
the grid cannot be completed; the symbolic policy tries the candidates of one cell, chosen by
`task.cell_order` (the most constrained, or the first in reading order). The final answer is the
whole grid inside `<answer>...</answer>`, checked exactly: every cell, every given kept, every row,
column and box a permutation. Why Sudoku: published work (Qin et al., arXiv 2504.07052) finds that
search traces teach small students from scratch on Sudoku, where on Countdown they do not.
"""
from __future__ import annotations

import random
import re
from typing import Any, Mapping

from search.tasks.base import THINK_CLOSE, Problem, StepResult, Task
from search.tasks.rows import ProblemFileError
from search.tasks.sudoku import answer as frame
from search.tasks.sudoku import prompts
from search.tasks.sudoku.settings import SudokuConfig
from search.tasks.sudoku.generator import generate_problems, make_problem, split_of
from search.tasks.sudoku.grid import BLANK, candidates, geometry, place, rows_of, size_of, solves
from search.tasks.sudoku.problem_files import load_puzzle_file
from search.tasks.sudoku.solver import choose, solvable
from search.tasks.sudoku.steps import apply_step, format_step, parse_step

_PLACEMENT = re.compile(r"r\d+c\d+=\d+")

LABEL_NOTES = """\
Every step was labelled by the task, never by a model:

- **invalid**: the line is not a placement `r3c5=7`, names a cell outside the grid or a digit the grid
  does not use, writes over a filled cell, or puts a digit already in the cell's row, column or box;
  the node's `reason` says which.
- **dead_end**: a legal placement after which the exact oracle (a depth-first solver) proves that the
  grid can no longer be completed; the reason names the contradiction when one is visible.
- **valid**: a legal placement after which the grid can still be completed.
- **solution**: the placement that fills the last blank; the `<answer>` grid was then checked exactly
  (complete, every given kept, every row, column and box a permutation)."""


class SudokuTask(Task):
    """Sudoku as a search task: labelled placements, an exact oracle and an exact answer check."""

    name = "sudoku"
    step_delimiter = "\n"
    answer_stop = (frame.ANSWER_CLOSE,)
    answer_markers = frame.ANSWER_MARKERS
    default_value = "label"
    stream_grammar = True
    symbolic = True
    label_notes = LABEL_NOTES

    def __init__(self, config: SudokuConfig | None = None) -> None:
        self.config = config or SudokuConfig()

    # -- problems -----------------------------------------------------------------------------
    def load_problems(self) -> list[Problem]:
        """Generated puzzles, or the checked rows of `config.path` (split by a hash of the puzzle
        where a row names none); a puzzle listed twice is kept once."""
        cfg = self.config
        if cfg.source == "generate":
            return generate_problems(cfg)
        problems: dict[str, Problem] = {}
        for row in load_puzzle_file(cfg.path, cfg.size, cfg.unique):
            split = row.split or split_of(row.puzzle, cfg.test_fraction)
            problems.setdefault(row.puzzle, make_problem(row.puzzle, row.solution, split, cfg.dataset))
        if not problems:
            raise ProblemFileError(f"{cfg.path}: no puzzles in the file")
        return list(problems.values())

    def canonical_form(self, problem: Problem) -> str | None:
        """The puzzle's grid with blanks as `.` (`0` and `.` are one blank), for decontamination: the
        same puzzle in either file spelling. None for a payload without a `puzzle` string."""
        puzzle = problem.payload.get("puzzle")
        return "".join(puzzle.split()).replace("0", ".") if isinstance(puzzle, str) else None

    def initial_state(self, problem: Problem) -> dict[str, Any]:
        """The puzzle's grid."""
        return {"grid": problem.payload["puzzle"]}

    # -- prompts ------------------------------------------------------------------------------
    def question(self, problem: Problem) -> str:
        """`Sudoku 4x4:\\n1020\\n...\\n` (0 for blanks), or the givens as placements (`task.puzzle_format`)."""
        return prompts.question(problem.payload["puzzle"], self.config.puzzle_format)

    def fewshot_prompt(self, problem: Problem) -> str:
        """Two worked puzzles of the same size, then the puzzle, ending in `<think>\\n`."""
        return prompts.fewshot_prompt(problem, self.config.cell_order, self.config.propagation,
                                      self.config.puzzle_format)

    def prompt_messages(self, problem: Problem) -> list[dict[str, str]]:
        """Chat messages (system, user) with the rules, the format, a worked puzzle and the puzzle."""
        return prompts.chat_messages(problem, self.config.cell_order, self.config.propagation,
                                     self.config.puzzle_format)

    def instructions(self, problem: Problem) -> str:
        """Rules, output format and the puzzle as one user message."""
        return prompts.instructions(problem, self.config.puzzle_format)

    # -- steps --------------------------------------------------------------------------------
    def apply_step(self, state: dict[str, Any], text: str, problem: Problem | None = None) -> StepResult:
        """Label one generated line: valid / dead_end / solution / invalid (see sudoku.steps)."""
        puzzle = problem.payload.get("puzzle") if problem is not None else None
        return apply_step(state, text, puzzle)

    def is_solvable(self, state: dict[str, Any]) -> bool | None:
        """Oracle: can the grid still be completed?"""
        return solvable(state["grid"])

    def legal_steps(self, state: dict[str, Any], problem: Problem | None = None) -> list[tuple[str, dict[str, Any]]]:
        """The candidates of the cell the search fills next (`task.cell_order`, `task.propagation`),
        ascending, as (`r3c5=7`, the state after it); empty when a blank has no digit left."""
        grid = state["grid"]
        choice = choose(grid, self.config.cell_order, self.config.propagation)
        if choice is None:
            return []
        size = size_of(grid)
        return [(format_step(choice.cell, d, size), {"grid": place(grid, choice.cell, d)}) for d in choice.digits]

    def can_continue(self, state: dict[str, Any] | None) -> bool:
        """A blank is left."""
        return state is not None and BLANK in state.get("grid", "")

    # -- answers ------------------------------------------------------------------------------
    def final_answer(self, problem: Problem, states: list[dict[str, Any]]) -> str:
        """The last state's complete grid."""
        grid = states[-1]["grid"]
        if BLANK in grid:
            raise ValueError(f"problem {problem.key}: the last state still has {grid.count(BLANK)} blanks")
        return grid

    def format_answer(self, answer: str) -> str:
        """`<answer>\\n1234\\n...\\n</answer>`, one row a line."""
        return frame.format_answer(answer)

    def extract_answer(self, text: str) -> str | None:
        """The last complete `<answer>...</answer>`, whitespace removed."""
        return frame.extract_answer(text)

    def close_answer(self, text: str, finish_reason: str | None) -> str:
        """Puts back the `</answer>` the policy stopped at."""
        return frame.close_answer(text, finish_reason)

    def verify(self, problem: Problem, answer: str | None) -> bool:
        """True iff `answer` is the complete grid: every given kept, no rule broken."""
        return isinstance(answer, str) and solves(problem.payload["puzzle"], "".join(answer.split()))

    # -- words --------------------------------------------------------------------------------
    def describe_state(self, state: dict[str, Any] | None) -> str | None:
        """The grid, rows separated by `/` (`1020/0004/...`): the viewer's small grid and a journey's
        return line."""
        grid = (state or {}).get("grid")
        if not isinstance(grid, str):
            return None
        try:
            return "/".join(rows_of(grid))
        except ValueError:
            return None

    def describe_check(self, node: Mapping[str, Any]) -> str | None:
        """"r3c5 can only be 7" when the cell had one candidate, else "7 fits r3c5"."""
        grid = (node.get("state") or {}).get("grid")
        parsed = parse_step(node.get("text") or "")
        if not isinstance(grid, str) or parsed is None:
            return None
        size = size_of(grid)
        row, col, digit = parsed
        cell = (row - 1) * size + col - 1
        if not (0 <= cell < len(grid)) or grid[cell] != str(digit):
            return None
        name = geometry(size).name(cell)
        if candidates(place(grid, cell, 0), cell) == [digit]:
            return f"{name} can only be {digit}"
        return f"{digit} fits {name} and the grid can still be completed"

    def kept_facts(self, text: str) -> list[str]:
        """The placements `r3c5=7` of a text."""
        return _PLACEMENT.findall(re.sub(r"\s+", "", text))

    # -- stream of search -----------------------------------------------------------------------
    def stream_state(self, state: dict[str, Any]) -> str:
        """The grid, rows separated by `/`."""
        return "/".join(rows_of(state["grid"]))

    def stream_result(self, state: dict[str, Any]) -> str:
        """How many blanks the step leaves: `21 left`."""
        return f"{state['grid'].count(BLANK)} left"

    def stream_operation(self, text: str) -> str:
        """The placement a line parses to (`r3c5=7`), else the line compacted."""
        parsed = parse_step(text)
        if parsed is not None:
            return f"r{parsed[0]}c{parsed[1]}={parsed[2]}"
        return re.sub(r"\s+", "", text.strip())

    def stream_goal_reached(self, state: dict[str, Any]) -> str:
        """`Grid complete: Goal Reached`."""
        return "Grid complete: Goal Reached"

    # -- the scripted policy (tests and benchmarks only) ------------------------------------------
    def sample_step(self, state: dict[str, Any], rng: random.Random, error_rate: float,
                    problem: Problem | None = None) -> str:
        """The solution's digit at the search's next cell with probability 1 - error_rate, else a
        legal candidate chosen at random (often a dead end) or a digit that breaks a rule."""
        grid = state["grid"]
        choice = choose(grid, self.config.cell_order, self.config.propagation)
        size = size_of(grid)
        if choice is None:
            return "r1c1=1"
        solution = problem.answer if problem is not None and problem.answer else None
        if rng.random() >= error_rate and solution and choice.digits:
            return format_step(choice.cell, int(solution[choice.cell]), size)
        if choice.digits and rng.random() < 0.5:
            return format_step(choice.cell, rng.choice(choice.digits), size)
        return format_step(choice.cell, rng.randint(1, size), size)

    def sample_rollout(self, state: dict[str, Any], rng: random.Random, error_rate: float,
                       problem: Problem | None = None) -> str:
        """Scripted placements until the grid is full or a step fails, then the answer frame."""
        lines, current = [], state
        while BLANK in current["grid"]:
            line = self.sample_step(current, rng, error_rate, problem)
            result = self.apply_step(current, line, problem)
            lines.append(line)
            if result.state is None:
                break
            current = result.state
        return self.join_steps(lines) + f"\n{THINK_CLOSE}\n" + frame.format_answer(current["grid"])
