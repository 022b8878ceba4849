"""The Sudoku laboratory at smoke size: symbolic depth-first trees -> shortcut / journey / dfs data
from the same trees -> students trained from scratch (a few thousand parameters, a few steps)
-> stored eval rows, each checked by the independent Sudoku checker of tests/test_sudoku_task.py.
And the depth-first trace itself, replayed step by step on a real tree."""
from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir

from db import TraceStore
from db.stored_tree import load_trees
from journeyforge.cli import CONF_DIR
from journeyforge.stages import experiment
from search.tasks import make_task
from tests.test_sudoku_task import PUZZLE4, SOLUTION4, brute_solutions, is_solution
from traces.dfs import linearize_dfs

SMOKE = ["task.n_train=16", "task.n_test=4", "eval.n_problems=4", "eval.max_tokens=60", "experiment.seeds=[0]",
         "experiment.samples=2", "experiment.resamples=200", "train.max_steps=2",
         "train.logging_steps=1", "train.per_device_train_batch_size=4", "train.student.layers=1",
         "train.student.width=16", "train.student.heads=2", "explore.progress=false"]


def _cfg(tmp_path: Path, *overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        return compose(config_name="config", overrides=[
            "experiment=sudoku_lab", f"workdir={tmp_path / 'out'}", f"store.url=sqlite:///{tmp_path / 'lab.db'}",
            *SMOKE, *overrides])


def test_sudoku_lab_smoke_from_symbolic_trees_to_stored_eval_rows_checked_independently(tmp_path):
    arms = ["shortcut", "journey", "dfs"]   # stream: ~10x their tokens (the preset linearizes, never trains it)
    result = experiment.run(_cfg(tmp_path, f"experiment.select=[{','.join(arms)}]"))
    store = TraceStore(f"sqlite:///{tmp_path / 'lab.db'}")
    run = store.get_run("experiment-sudoku-lab", "explore")
    trees = store.trees(run["id"])
    assert len(trees) == 16 and all(t["status"] == "done" for t in trees)
    labels = {r["label"] for t in trees for r in store.nodes(t["id"])}
    assert "invalid" not in labels and {"solution", "dead_end"} <= labels   # the preset's puzzles need guesses
    for arm in arms:
        assert result["trained"][f"{arm}/s0"]["parameters"] < 20_000
    ev = store.get_run("experiment-sudoku-lab/experiment", "eval")
    rows = store.evals(ev["id"])
    assert {r["model"] for r in rows} == {f"{a}/s0" for a in arms} and len(rows) == 3 * 4
    problems = {p["id"]: p for p in store.problems(split="test")}
    train_puzzles = {p["payload"]["puzzle"] for p in store.problems(split="train")}
    size = make_task(dict(_cfg(tmp_path).task)).config.size
    box = {4: (2, 2), 6: (2, 3), 9: (3, 3)}[size]
    for r in rows:
        puzzle = problems[r["problem_id"]]["payload"]["puzzle"]
        assert puzzle not in train_puzzles
        answer = "".join((r["answer"] or "").split())
        assert bool(r["is_correct"]) == is_solution(puzzle, answer, size, box)
    assert (tmp_path / "out" / "experiment" / "report.md").exists()


def _replay(puzzle: str, lines: list[str]) -> str:
    """The grid after a dfs trace's placements and undos, each placement checked against the rules
    by `brute_solutions`' own checker on the finished grid (written apart from the task's code)."""
    grid = list(puzzle)
    for line in lines:
        if line.startswith("undo "):
            step = line[len("undo "):]
            cell = (int(step[1]) - 1) * 4 + int(step[3]) - 1
            assert grid[cell] == step[5], line
            grid[cell] = "0"
        elif line[0] == "r" and "=" in line:
            cell = (int(line[1]) - 1) * 4 + int(line[3]) - 1
            assert grid[cell] == "0", line
            grid[cell] = line[5]
    return "".join(grid)


def test_dfs_trace_of_a_real_tree_is_the_search_in_visit_order_and_replays_to_the_solution(tmp_path):
    from journeyforge.stages import explore

    path = tmp_path / "one.txt"
    path.write_text(PUZZLE4 + "\n")
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        cfg = compose(config_name="config", overrides=[
            "task=sudoku", "task.size=4", "task.source=file", f"task.path={path}", "task.cell_order=row",
            "task.test_fraction=0", "policy=symbolic", "policy.heuristic=null", "search=dfs",
            "search.best_first=true", "search.expand_dead_ends=true", "search.stop_on_solution=true",
            "search.max_depth=20", "search.max_expansions=100", "search.expansions_per_wave=1",
            f"store.url=sqlite:///{tmp_path / 'one.db'}", f"workdir={tmp_path / 'out'}", "explore.progress=false"])
    explore.run(cfg)
    store = TraceStore(f"sqlite:///{tmp_path / 'one.db'}")
    (tree,) = store.trees(store.get_run("sudoku-demo", "explore")["id"])
    G = load_trees(store, [tree["id"]])[tree["id"]]
    (trace,) = linearize_dfs(G, make_task(dict(cfg.task)))
    # Row by row: r1c1 can be 1 or 3; 1 leaves r1c2 nothing (row 1 has 1, 2; column 2 has 4, 3).
    assert trace["text"].startswith("<think>\nr1c1=1\nr1c2 can hold no digit\nundo r1c1=1\nr1c1=3\nr1c2=1\n")
    assert trace["n_backtracks"] >= 1 and trace["answer"] == SOLUTION4 and trace["is_correct"]
    assert _replay(PUZZLE4, trace["lines"]) == SOLUTION4 == brute_solutions(PUZZLE4, 4, (2, 2))[0]
