"""The Sudoku task: placements and their labels, the reasons of invalid steps, the exact oracle, the
symbolic expansion, generated puzzles (one solution, blanks, wrong guesses), the exact answer check,
and bad puzzle files ending in one line through the real CLI with nothing written."""
from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest

from search.tasks import make_task
from search.tasks.base import DEAD_END, INVALID, SOLUTION, VALID, Problem
from search.tasks.rows import ProblemFileError
from search.tasks.sudoku.grid import geometry

# A 4x4 puzzle (rows 0020 / 0401 / 4300 / 0003) and its one solution (3124 / 2431 / 4312 / 1243).
PUZZLE4 = "0020040143000003"
SOLUTION4 = "3124243143121243"


def brute_solutions(puzzle: str, size: int, box: tuple[int, int]) -> list[str]:
    """Every solution of `puzzle`, by trying all row permutations: written apart from the task's solver."""
    rows = [puzzle[r * size:(r + 1) * size] for r in range(size)]
    digits = "".join(str(d) for d in range(1, size + 1))
    options = [["".join(p) for p in itertools.permutations(digits)
                if all(c == "0" or c == p[i] for i, c in enumerate(row))] for row in rows]
    out = []
    for pick in itertools.product(*options):
        if is_solution(puzzle, "".join(pick), size, box):
            out.append("".join(pick))
    return out


def is_solution(puzzle: str, grid: str, size: int, box: tuple[int, int]) -> bool:
    """An independent Sudoku checker: complete grid, every row, column and box a permutation of
    1..size, every given kept."""
    if not isinstance(grid, str) or len(grid) != size * size:
        return False
    want = sorted(str(d) for d in range(1, size + 1))
    cell = lambda r, c: grid[r * size + c]  # noqa: E731
    rows = [[cell(r, c) for c in range(size)] for r in range(size)]
    cols = [[cell(r, c) for r in range(size)] for c in range(size)]
    boxes = [[cell(br + i, bc + j) for i in range(box[0]) for j in range(box[1])]
             for br in range(0, size, box[0]) for bc in range(0, size, box[1])]
    if any(sorted(unit) != want for unit in rows + cols + boxes):
        return False
    return all(p == "0" or p == g for p, g in zip(puzzle, grid))


def _task(**options):
    return make_task({"name": "sudoku", **options})


def _problem(puzzle=PUZZLE4):
    return Problem(key=puzzle, payload={"puzzle": puzzle, "size": int(len(puzzle) ** 0.5)})


def test_the_test_puzzle_has_exactly_one_solution_by_brute_force():
    assert brute_solutions(PUZZLE4, 4, (2, 2)) == [SOLUTION4]


def test_six_by_six_boxes_are_two_rows_by_three_columns():
    geo = geometry(6)
    box1 = dict(geo.units)["box 1"]
    assert box1 == (0, 1, 2, 6, 7, 8) and dict(geo.units)["box 2"] == (3, 4, 5, 9, 10, 11)
    assert len(geo.units) == 18 and len(geo.peers[0]) == 5 + 5 + 2


def test_a_legal_placement_is_valid_and_the_last_one_solves():
    task, problem = _task(size=4), _problem()
    solution = SOLUTION4
    state = task.initial_state(problem)
    blanks = [i for i, ch in enumerate(PUZZLE4) if ch == "0"]
    for n, cell in enumerate(blanks):
        line = f"r{cell // 4 + 1}c{cell % 4 + 1}={solution[cell]}"
        result = task.apply_step(state, f"  {line.upper()}  ", problem)
        assert result.step == line and result.reason is None
        state = result.state
        assert result.label == (SOLUTION if n == len(blanks) - 1 else VALID)
    assert state["grid"] == solution and result.final and result.reward == 1.0
    assert task.final_answer(problem, [state]) == solution
    assert task.verify(problem, task.extract_answer(task.format_answer(solution)))


@pytest.mark.parametrize("line, reason", [
    ("r1c3=4", "r1c3 is a given (2)"),
    ("r1c1=2", "row 1 already has a 2 (r1c3)"),
    ("r1c1=4", "column 1 already has a 4 (r3c1)"),
    ("r1c2=3", "column 2 already has a 3 (r3c2)"),
    ("r2c1=4", "row 2 already has a 4 (r2c2)"),
    ("r1c4=1", "column 4 already has a 1 (r2c4)"),
    ("r5c1=1", "r5c1 is outside the 4x4 grid"),
    ("r1c1=7", "7 is not a digit of a 4x4 grid (1-4)"),
    ("place a three in the corner", "it is not a placement of the form 'r3c5=7'"),
])
def test_invalid_steps_say_which_rule_they_break(line, reason):
    task, problem = _task(size=4), _problem()
    result = task.apply_step(task.initial_state(problem), line, problem)
    assert (result.label, result.reason, result.state) == (INVALID, reason, None)


def test_a_digit_already_in_the_box_only_is_named_by_its_box():
    task = _task(size=6)
    grid = "1" + "0" * 35     # box 1 is r1c1..r2c3
    assert task.apply_step({"grid": grid}, "r2c3=1").reason == "box 1 already has a 1 (r1c1)"
    assert task.apply_step({"grid": grid}, "r3c2=1").label != INVALID   # box 3 starts at row 3


def test_overwriting_an_earlier_placement_is_named_as_such_not_as_a_given():
    task, problem = _task(size=4), _problem()
    state = task.apply_step(task.initial_state(problem), "r1c1=3", problem).state
    assert task.apply_step(state, "r1c1=1", problem).reason == "r1c1 already holds 3"


def test_oracle_marks_a_legal_placement_that_cannot_be_completed_a_dead_end_with_its_contradiction():
    task, problem = _task(size=4), _problem()
    result = task.apply_step(task.initial_state(problem), "r1c1=1", problem)
    # r1c1=1 leaves r1c2 with nothing: row 1 has 1 and 2, column 2 has 4 and 3.
    assert result.label == DEAD_END and result.reason == "r1c2 can hold no digit"
    assert task.is_solvable(result.state) is False and task.is_solvable(task.initial_state(problem)) is True


def test_legal_steps_are_the_candidates_of_one_cell_in_ascending_order():
    # Row order: the first blank, r1c1, can hold 1 or 3.
    row = _task(size=4, cell_order="row")
    assert [s for s, _ in row.legal_steps({"grid": PUZZLE4})] == ["r1c1=1", "r1c1=3"]
    # Most constrained first: r1c2 (row 1 has 2, column 2 has 4 and 3) can only be 1, and it is the
    # first such cell in reading order.
    constrained = _task(size=4, cell_order="constrained")
    steps = constrained.legal_steps({"grid": PUZZLE4})
    assert [s for s, _ in steps] == ["r1c2=1"] and steps[0][1] == {"grid": "0120040143000003"}
    # Every step's state is what applying its text gives.
    for text, after in row.legal_steps({"grid": PUZZLE4}):
        assert row.apply_step({"grid": PUZZLE4}, text).state == after
    assert row.legal_steps({"grid": "1020040143000003"}) == []   # r1c2 has no digit left


@pytest.mark.parametrize("size, blanks, order, box", [(4, 10, "row", (2, 2)), (6, 20, "row", (2, 3))])
def test_generated_puzzles_have_one_solution_the_asked_blanks_and_a_disjoint_test_split(size, blanks, order, box):
    task = _task(size=size, blanks=blanks, cell_order=order, n_train=12, n_test=4, seed=3, min_guesses=1)
    problems = task.load_problems()
    assert len(problems) == 16 and len({p.key for p in problems}) == 16
    assert {p.key for p in problems if p.split == "test"}.isdisjoint(p.key for p in problems if p.split == "train")
    for p in problems:
        assert p.payload["puzzle"].count("0") == blanks and p.payload["guesses"] >= 1
        assert is_solution(p.payload["puzzle"], p.answer, size, box)
        if size == 4:
            assert brute_solutions(p.payload["puzzle"], size, box) == [p.answer]
    again = _task(size=size, blanks=blanks, cell_order=order, n_train=12, n_test=4, seed=3, min_guesses=1)
    assert [p.key for p in again.load_problems()] == [p.key for p in problems]


def test_an_impossible_difficulty_is_one_line_that_says_what_to_change():
    with pytest.raises(ValueError, match="lower task.min_guesses"):
        _task(size=4, blanks=4, n_train=2, n_test=0, min_guesses=1).load_problems()


def test_the_answer_is_the_whole_grid_checked_exactly():
    task, problem = _task(size=4), _problem()
    solution = SOLUTION4
    framed = task.format_answer(solution)
    assert framed.startswith("<answer>\n") and framed.count("\n") == 5
    assert task.extract_answer("...</think>\n" + framed) == solution
    assert task.verify(problem, solution)
    wrong_given = "1" + solution[1:]
    assert not task.verify(problem, wrong_given)              # breaks r1c1's rules and keeps no digit count
    assert not task.verify(problem, solution[:-1])            # one cell short
    assert not task.verify(problem, solution.replace("3", "x"))
    assert not task.verify(problem, None)


def test_viewer_and_reflections_see_the_grid_row_by_row():
    task = _task(size=4)
    assert task.describe_state({"grid": PUZZLE4}) == "0020/0401/4300/0003"
    assert task.stream_state({"grid": PUZZLE4}) == "0020/0401/4300/0003"


def test_puzzles_load_from_one_line_and_csv_files(tmp_path):
    solution = SOLUTION4
    lines = tmp_path / "puzzles.txt"
    lines.write_text("# two puzzles\n" + PUZZLE4.replace("0", ".") + "\n\n" + "0" * 16 + "\n")
    problems = _task(size=4, source="file", path=str(lines), unique=False).load_problems()
    assert [p.payload["puzzle"] for p in problems] == [PUZZLE4, "0" * 16]   # many solutions: unique=false keeps it
    assert is_solution("0" * 16, problems[1].answer, 4, (2, 2))
    table = tmp_path / "puzzles.csv"
    table.write_text(f"quizzes,solutions\n{PUZZLE4},{solution}\n")
    (problem,) = _task(size=4, source="file", path=str(table)).load_problems()
    assert problem.answer == solution and problem.key == PUZZLE4


@pytest.mark.parametrize("content, message", [
    (PUZZLE4 + "\n" + PUZZLE4[:-2] + "\n", "line 2: field 'puzzle' has 14 characters; a 4x4 puzzle (task.size=4) has 16"),
    ("002x040143000003\n", "line 1: field 'puzzle' has 'x' at character 4; givens are digits 1-4 and blanks are 0 or ."),
    ("2020040143000003\n", "line 1: field 'puzzle': the givens break a rule (row 1 has two 2s (r1c1, r1c3))"),
    ("1200000000300040\n", "line 1: field 'puzzle' has no solution"),   # r1c3 can hold neither 3 nor 4
    ("0000000000000000\n", "line 1: field 'puzzle' has more than one solution"),
    (f"puzzle,solution\n{PUZZLE4},1111222233334444\n", "line 2: field 'solution' does not solve the puzzle"),
])
def test_bad_puzzle_files_name_the_file_line_and_field(tmp_path, content, message):
    path = tmp_path / ("bad.csv" if content.startswith("puzzle,") else "bad.txt")
    path.write_text(content)
    with pytest.raises(ProblemFileError) as err:
        _task(size=4, source="file", path=str(path)).load_problems()
    assert str(err.value).startswith(f"{path} {message}") and "\n" not in str(err.value)


def test_a_bad_puzzle_file_through_the_cli_is_one_line_and_writes_no_store(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text(PUZZLE4 + "\n" + "0000000000000000\n")
    store = tmp_path / "store.db"
    proc = subprocess.run(
        [sys.executable, "-m", "journeyforge.cli", "explore", "task=sudoku", "task.size=4", "task.source=file",
         f"task.path={bad}", f"store.url=sqlite:///{store}", f"workdir={tmp_path / 'out'}", "policy=symbolic",
         "policy.heuristic=null", "search=dfs"],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1], timeout=600)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines == [f"journeyforge explore: {bad} line 2: field 'puzzle' has more than one solution "
                     "(task.unique=true keeps puzzles with exactly one; set task.unique=false to keep it)"]
    assert not store.exists()


def test_the_puzzle_is_shown_as_rows_or_as_its_givens_in_the_steps_own_words():
    problem = _problem()
    assert _task(size=4).question(problem) == "Sudoku 4x4:\n0020\n0401\n4300\n0003\n"
    cells = _task(size=4, puzzle_format="cells")
    assert cells.question(problem) == "Sudoku 4x4:\nr1c3=2 r2c2=4 r2c4=1 r3c1=4 r3c2=3 r4c4=3\n"
    assert cells.prompt(problem, "question").endswith("r4c4=3\n<think>\n")
    with pytest.raises(ValueError, match="task.puzzle_format must be one of"):
        _task(size=4, puzzle_format="picture")


def test_the_canonical_form_is_the_puzzle_whatever_the_blank_spelling():
    task = _task(size=4)
    assert task.canonical_form(_problem()) == task.canonical_form(_problem(PUZZLE4.replace("0", "."))) == "..2..4.143.....3"
    assert task.canonical_form(Problem(key="x", payload={"question": "not a puzzle"})) is None
