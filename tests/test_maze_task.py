"""The grid maze task: moves and their labels, the reasons of invalid moves, the exact oracle (checked
against every simple path by brute force), the symbolic expansion, seeded generated mazes, the exact
answer check (against a checker written apart from the task's code), bad maze files ending in one
line, and symbolic trees grown and linearized through the real CLI into a SQLite store."""
from __future__ import annotations

import subprocess
import sys
from collections import deque
from pathlib import Path

import pytest

from db import TraceStore
from search.tasks import make_task
from search.tasks.base import DEAD_END, INVALID, SOLUTION, VALID, WRONG_ANSWER, Problem
from search.tasks.rows import ProblemFileError

ROOT = Path(__file__).resolve().parents[1]
# A 4x4 maze whose open cells form a tree; the one path S..G takes 6 moves; r3c2-r3c1-r4c1 is a branch.
MAZE4 = "S..#" "##.#" "...." ".##G"
# A 5x5 maze where nearest-the-goal-first walks right into a dead end (r5c5) before the 9-move way round.
MAZE5 = ".S..." ".###." ".#G#." ".#.#." "...#."
SNAKE5 = "S...." "####." "....." ".####" "....G"
OPEN5 = "S...." "....." "..#.." "....." "....G"


def _cells(maze: str) -> tuple[int, dict[tuple[int, int], str]]:
    size = int(round(len(maze) ** 0.5))
    return size, {(r, c): maze[r * size + c] for r in range(size) for c in range(size)}


def _open_neighbours(grid: dict[tuple[int, int], str], rc: tuple[int, int]) -> list[tuple[int, int]]:
    r, c = rc
    return [n for n in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)) if grid.get(n, "#") != "#"]


def bfs_moves(maze: str) -> int | None:
    """Moves of a shortest path S..G by a breadth-first search over (row, column) pairs, or None."""
    _, grid = _cells(maze)
    start = next(k for k, v in grid.items() if v == "S")
    seen, queue = {start: 0}, deque([start])
    while queue:
        here = queue.popleft()
        if grid[here] == "G":
            return seen[here]
        for n in _open_neighbours(grid, here):
            if n not in seen:
                seen[n] = seen[here] + 1
                queue.append(n)
    return None


def is_shortest_answer(maze: str, answer: str | None) -> bool:
    """An independent path checker: the answer's cells `r<row>c<col>` go from S to G over open cells,
    one step up, down, left or right at a time, in as few moves as a breadth-first search needs."""
    if not isinstance(answer, str):
        return False
    size, grid = _cells(maze)
    cells = []
    for piece in answer.split():
        if not (piece.startswith("r") and "c" in piece):
            return False
        row, _, col = piece[1:].partition("c")
        if not (row.isdigit() and col.isdigit()):
            return False
        cells.append((int(row) - 1, int(col) - 1))
    if not cells or any(grid.get(rc, "#") == "#" for rc in cells):
        return False
    if grid[cells[0]] != "S" or grid[cells[-1]] != "G":
        return False
    if any(abs(a[0] - b[0]) + abs(a[1] - b[1]) != 1 for a, b in zip(cells, cells[1:])):
        return False
    return len(cells) - 1 == bfs_moves(maze)


def simple_paths(maze: str) -> list[list[tuple[int, int]]]:
    """Every simple path from S (any length, any end), by brute force."""
    _, grid = _cells(maze)
    start = next(k for k, v in grid.items() if v == "S")
    out, stack = [], [[start]]
    while stack:
        path = stack.pop()
        out.append(path)
        if grid[path[-1]] != "G":
            stack.extend(path + [n] for n in _open_neighbours(grid, path[-1]) if n not in path)
    return out


def _task(**options):
    return make_task({"name": "maze", **options})


def _problem(maze: str) -> Problem:
    return Problem(key=maze, payload={"maze": maze, "size": int(round(len(maze) ** 0.5))})


def _walk(task, maze: str, lines: list[str]):
    state = task.initial_state(_problem(maze))
    result = None
    for line in lines:
        result = task.apply_step(state, line)
        state = result.state
    return result


def test_moves_along_the_shortest_path_are_valid_and_the_last_one_solves():
    task = _task(size=4)
    moves = ["r1c2", "r1c3", "r2c3", "r3c3", "r3c4"]
    assert _walk(task, MAZE4, moves).label == VALID
    last = _walk(task, MAZE4, [*moves, "down"])   # a direction word reads as the cell it leads to
    assert (last.label, last.step, last.reward, last.terminal) == (SOLUTION, "r4c4", 1.0, True)
    answer = task.final_answer(_problem(MAZE4), [last.state])
    assert answer == "r1c1 r1c2 r1c3 r2c3 r3c3 r3c4 r4c4" and task.verify(_problem(MAZE4), answer)


@pytest.mark.parametrize("lines, reason", [
    (["go somewhere"], "it is not a move of the form 'r2c3' (the next cell) or up, down, left, right"),
    (["down"], "r2c1 is a wall"),
    (["r0c1"], "r0c1 is outside the 4x4 maze"),
    (["up"], "up from r1c1 leaves the 4x4 maze"),
    (["r3c3"], "r3c3 is not next to r1c1 (a move goes up, down, left or right)"),
    (["r1c2", "r1c1"], "r1c1 is already on the path"),
    (["r1c2", "r1c3", "r2c3", "r3c3", "r3c4", "r4c4", "r3c4"], "the path already reached the goal"),
])
def test_invalid_moves_say_what_is_wrong(lines, reason):
    result = _walk(_task(size=4), MAZE4, lines)
    assert (result.label, result.reason, result.state) == (INVALID, reason, None)


def test_a_move_off_every_shortest_path_is_a_dead_end_with_the_moves_it_costs():
    task = _task(size=4)
    path = ["r1c2", "r1c3", "r2c3", "r3c3"]
    off = _walk(task, MAZE4, [*path, "r3c2"])
    assert off.label == DEAD_END and off.reason == ("the goal is 3 moves from r3c2, so this path takes at least "
                                                    "8 moves; the shortest takes 6")
    stuck = _walk(task, MAZE4, [*path, "r3c2", "r3c1", "r4c1"])
    assert stuck.label == DEAD_END and stuck.reason == "r4c1 is a dead end"
    assert task.legal_steps(stuck.state) == [] and task.can_continue(stuck.state)   # expanded to nothing


def test_reaching_the_goal_the_long_way_is_a_wrong_answer():
    maze = "S.G" "..." "..."
    long = _walk(_task(size=3), maze, ["r2c1", "r2c2", "r2c3", "r1c3"])
    assert long.label == WRONG_ANSWER and long.reason == "this path reaches the goal in 4 moves; the shortest takes 2"


@pytest.mark.parametrize("maze", [MAZE4, "S..." "...." ".#.." "...G", "S.#." "...." "#..." "..#G"])
def test_the_oracle_agrees_with_brute_force_on_every_simple_path(maze):
    """A prefix is still solvable iff some simple path extending it ends at G in the fewest moves."""
    task = _task(size=4)
    size = 4
    paths = simple_paths(maze)
    best = bfs_moves(maze)
    winners = [p for p in paths if maze[p[-1][0] * size + p[-1][1]] == "G" and len(p) - 1 == best]
    for path in paths:
        cells = [r * size + c for r, c in path]
        expected = any(w[:len(path)] == path for w in winners)
        assert task.is_solvable({"maze": maze, "path": cells}) is expected, path


def test_legal_steps_are_the_unvisited_open_neighbours_nearest_the_goal_first():
    task = _task(size=4)
    state = _walk(task, MAZE4, ["r1c2", "r1c3", "r2c3", "r3c3"]).state
    steps = task.legal_steps(state)
    assert [text for text, _ in steps] == ["r3c4", "r3c2"]    # Manhattan distance 1, then 3
    for text, after in steps:
        assert task.apply_step(state, text).state == after
    assert task.heuristic(steps[0][1], "manhattan") == 1 and task.heuristic(steps[0][1], "astar") == 6


@pytest.mark.parametrize("generator", ["perfect", "random"])
def test_generated_mazes_are_seeded_reachable_far_enough_and_split_by_maze(generator):
    options = dict(size=6, generator=generator, n_train=30, n_test=6, seed=3)
    first = _task(**options).load_problems()
    assert [p.row() for p in first] == [p.row() for p in _task(**options).load_problems()]
    assert [p.key for p in first] != [p.key for p in _task(**{**options, "seed": 4}).load_problems()]
    train = {p.key for p in first if p.split == "train"}
    test = {p.key for p in first if p.split == "test"}
    assert len(train) == 30 and len(test) == 6 and not train & test
    task = _task(**options)
    for p in first:
        maze = p.payload["maze"]
        assert maze.count("S") == 1 and maze.count("G") == 1 and set(maze) <= set("#.SG")
        moves = bfs_moves(maze)
        assert moves is not None and moves >= 6 and p.payload["moves"] == moves
        assert is_shortest_answer(maze, p.answer) and task.verify(p, p.answer)


def test_perfect_mazes_have_one_path_between_any_two_open_cells():
    for p in _task(size=7, n_train=10, n_test=0).load_problems():
        size, grid = _cells(p.payload["maze"])
        open_cells = [k for k, v in grid.items() if v != "#"]
        edges = sum(len(_open_neighbours(grid, k)) for k in open_cells) // 2
        seen, queue = {open_cells[0]}, deque([open_cells[0]])
        while queue:
            for n in _open_neighbours(grid, queue.popleft()):
                if n not in seen:
                    seen.add(n)
                    queue.append(n)
        assert len(seen) == len(open_cells) and edges == len(open_cells) - 1   # connected, no loop


def test_the_answer_is_checked_exactly_as_the_independent_checker_does():
    task = _task(size=5)
    maze = MAZE5
    gold = "r1c2 r1c1 r2c1 r3c1 r4c1 r5c1 r5c2 r5c3 r4c3 r3c3"
    answers = [gold, "  r1c2\n r1c1 r2c1 r3c1 r4c1 r5c1 r5c2 r5c3 r4c3 r3c3 ", gold.replace("r5c2 ", ""),
               "r1c2 r1c1 r2c1 r3c1 r4c1 r5c1 r5c2 r5c3 r4c3", "r1c1 r2c1 r3c1 r4c1 r5c1 r5c2 r5c3 r4c3 r3c3",
               gold + " r4c3 r3c3", "r1c2 r2c2 r3c2", "", None, "the path is " + gold, "r1c2 r1c1 r9c9"]
    for answer in answers:
        assert task.verify(_problem(maze), answer) is is_shortest_answer(maze, answer), answer
    assert task.verify(_problem(maze), gold) and not task.verify(_problem(maze), gold.replace("r5c2 ", ""))
    text = task.render_completion(["r1c1"], gold)
    assert text.endswith(f"<answer>{gold}</answer>") and task.extract_answer(text) == gold


@pytest.mark.parametrize("content, message", [
    (MAZE4 + "\n##.#\n", "line 2: field 'maze' has 4 characters; a 4x4 maze (task.size=4) has 16"),
    ("S..#/##.#/..../.##\n", "line 1: field 'maze': row 4 has 3 cells; a 4x4 maze (task.size=4) has 4"),
    ("S..#/##.#/....\n", "line 1: field 'maze' has 3 rows; a 4x4 maze (task.size=4) has 4"),
    ("\nS..###.#....x##G\n", "line 2: field 'maze' has 'x' at cell r4c1; cells are # (wall), . (open), "
                           "S (start) and G (goal)"),
    ("...###.#.....##G\n", "line 1: field 'maze' has 0 S cells; a maze has exactly one S (start)"),
    ("S..###.#.....##.\n", "line 1: field 'maze' has 0 G cells; a maze has exactly one G (goal)"),
    ("SS.###.#.....##G\n", "line 1: field 'maze' has 2 S cells; a maze has exactly one S (start)"),
    (MAZE4 + "\nS.#..#...##.##.G\n", "line 2: field 'maze': the goal G (r4c4) cannot be reached from the start S (r1c1)"),
])
def test_bad_maze_files_name_the_file_line_and_field(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_text(content)
    with pytest.raises(ProblemFileError) as err:
        _task(size=4, source="file", path=str(path)).load_problems()
    assert str(err.value) == f"{path} {message}"


def test_mazes_load_from_a_file_with_or_without_row_separators(tmp_path):
    path = tmp_path / "mazes.txt"
    path.write_text("S..#/##.#/..../.##G\n\n" + "S..." "...." ".#.." "...G" + "\n" + MAZE4 + "\n")
    problems = _task(size=4, source="file", path=str(path)).load_problems()
    assert [p.key for p in problems] == [MAZE4, "S..." "...." ".#.." "...G"]   # listed twice, kept once
    assert problems[0].answer == "r1c1 r1c2 r1c3 r2c3 r3c3 r3c4 r4c4" and problems[0].payload["moves"] == 6


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "journeyforge.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)


def test_a_bad_maze_file_through_the_cli_is_one_line_and_writes_no_store(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text(MAZE4 + "\n" + "S..#\n")
    store = tmp_path / "store.db"
    proc = _cli("explore", "task=maze", "task.size=4", "task.source=file", f"task.path={bad}",
                f"store.url=sqlite:///{store}", f"workdir={tmp_path / 'out'}", "policy=symbolic", "search=dfs")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines == [f"journeyforge explore: {bad} line 2: field 'maze' has 4 characters; a 4x4 maze "
                     "(task.size=4) has 16"]
    assert not store.exists()


def _replay(maze: str, lines: list[str]) -> list[tuple[int, int]]:
    """The path a dfs trace leaves: a cell line moves one open, unvisited cell on, `undo <cell>` takes
    the last move back, any other line (the failure's words) changes nothing."""
    _, grid = _cells(maze)
    path = [next(k for k, v in grid.items() if v == "S")]
    for line in lines:
        target = line.removeprefix("undo ")
        if not (target.startswith("r") and target[1].isdigit() and " " not in target):
            continue
        rc = (int(target[1]) - 1, int(target[3]) - 1)
        if line.startswith("undo "):
            assert path[-1] == rc, line
            path.pop()
        else:
            assert rc in _open_neighbours(grid, path[-1]) and rc not in path, line
            path.append(rc)
    return path


def test_symbolic_trees_explored_and_linearized_through_the_cli(tmp_path):
    mazes = tmp_path / "mazes.txt"
    mazes.write_text("\n".join([MAZE5, SNAKE5, OPEN5]) + "\n")
    common = ["task=maze", "task.size=5", "task.source=file", f"task.path={mazes}", "task.test_fraction=0",
              f"store.url=sqlite:///{tmp_path / 'm.db'}", f"workdir={tmp_path / 'out'}"]
    explore = _cli("explore", *common, "policy=symbolic", "search=dfs", "search.best_first=true",
                   "search.expand_dead_ends=true", "search.stop_on_solution=true", "search.max_depth=30",
                   "search.max_expansions=100", "search.expansions_per_wave=1", "explore.progress=false")
    assert explore.returncode == 0, explore.stderr[-2000:]
    lin = _cli("linearize", *common, "linearize.kinds=[shortcut,journey,dfs,stream]")
    assert lin.returncode == 0, lin.stderr[-2000:]
    store = TraceStore(f"sqlite:///{tmp_path / 'm.db'}")
    trees = store.trees(store.get_run("maze-demo", "explore")["id"])
    assert len(trees) == 3 and all(t["status"] == "done" for t in trees)
    maze_of = {p["id"]: p["payload"]["maze"] for p in store.problems()}
    tree_maze = {t["id"]: maze_of[t["problem_id"]] for t in trees}
    rows = store.trajectories()
    assert sorted(r["kind"] for r in rows) == sorted(["shortcut", "journey", "dfs", "stream"] * 3)
    for r in rows:
        assert r["is_correct"] and is_shortest_answer(tree_maze[r["tree_id"]], r["answer"]), r["kind"]
    dfs = {tree_maze[r["tree_id"]]: r for r in rows if r["kind"] == "dfs"}
    wrong_way = ["r1c3", "r1c4", "r1c5", "r2c5", "r3c5", "r4c5", "r5c5"]
    assert dfs[MAZE5]["text"].startswith("<think>\n" + "\n".join(
        [*wrong_way, "r5c5 is a dead end", *(f"undo {c}" for c in reversed(wrong_way)), "r1c1", "r2c1"]))
    for maze, r in dfs.items():
        think = r["text"].split("<think>\n", 1)[1].split("\n</think>", 1)[0]
        path = _replay(maze, think.splitlines())
        assert " ".join(f"r{a + 1}c{b + 1}" for a, b in path) == r["answer"]
    assert dfs[MAZE5]["n_backtracks"] == 1


def test_the_maze_lab_preset_composes_and_validates(tmp_path):
    from hydra import compose, initialize_config_dir

    from journeyforge.cli import CONF_DIR
    from journeyforge.settings import validate_config

    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        cfg = compose(config_name="config", overrides=["experiment=maze_lab", f"workdir={tmp_path}",
                                                       f"store.url=sqlite:///{tmp_path / 'lab.db'}"])
    validate_config(cfg)
    assert cfg.task.name == "maze" and list(cfg.experiment.select) == ["shortcut", "dfs", "journey"]


@pytest.mark.parametrize("maze", [MAZE4, MAZE5])
def test_the_cells_format_lists_every_open_cell_with_exactly_its_open_neighbours(maze):
    size, grid = _cells(maze)
    text = _task(maze_format="cells").question(_problem(maze))
    header, *lines = text.strip().splitlines()
    start = next(rc for rc, ch in grid.items() if ch == "S")
    goal = next(rc for rc, ch in grid.items() if ch == "G")
    rc = lambda cell: f"r{cell[0] + 1}c{cell[1] + 1}"  # noqa: E731
    assert header == f"Maze {size}x{size} from {rc(start)} to {rc(goal)}:"
    listed = {line.split(":")[0]: set(line.split(":")[1].split()) for line in lines}
    assert listed == {rc(cell): {rc(n) for n in _open_neighbours(grid, cell)}
                      for cell, ch in sorted(grid.items()) if ch != "#"}
    assert _task().question(_problem(maze)).count("\n") == size + 1   # grid, the default: one row a line


def test_an_unknown_maze_format_is_one_line_naming_the_option():
    with pytest.raises(ValueError, match=r"task.maze_format must be one of \('grid', 'cells'\), got 'walls'"):
        _task(maze_format="walls")
