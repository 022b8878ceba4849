"""Dropped traces (Dualformer's randomly removed search parts) on real depth-first Sudoku trees: with
drop 0 the dfs trace, with drop 1 the shortcut's lines, in between whole detours removed (every
trace still replays to the solution, each undo taking back a step it wrote), seeded per tree; and a
drop that is not a probability is one line naming the option, nothing written."""
from __future__ import annotations

import subprocess

from hydra import compose, initialize_config_dir

from db import TraceStore
from db.stored_tree import load_trees
from journeyforge.cli import CONF_DIR
from journeyforge.stages import explore
from search.tasks import make_task
from tests.explore_processes import ENV, REPO, journeyforge
from tests.test_sudoku_lab import _replay
from traces.dfs import linearize_dfs
from traces.dropped import linearize_dropped
from traces.shortcut import linearize_shortcut

TREES = ["task=sudoku", "task.size=4", "task.blanks=10", "task.cell_order=row", "task.n_train=24",
         "task.n_test=0", "policy=symbolic", "policy.heuristic=null", "search=dfs", "search.best_first=true",
         "search.expand_dead_ends=true", "search.stop_on_solution=true", "search.max_depth=40",
         "search.max_expansions=200", "search.max_nodes=400", "search.expansions_per_wave=1",
         "explore.progress=false"]


def _trees(tmp_path):
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        cfg = compose(config_name="config", overrides=[
            *TREES, f"store.url=sqlite:///{tmp_path / 'd.db'}", f"workdir={tmp_path / 'out'}"])
    explore.run(cfg)
    store = TraceStore(f"sqlite:///{tmp_path / 'd.db'}")
    trees = store.trees(store.get_run(cfg.name, "explore")["id"])
    graphs = load_trees(store, [t["id"] for t in trees])
    return make_task(dict(cfg.task)), list(graphs.values())


def test_dropped_traces_run_from_the_dfs_trace_to_the_shortcut_and_replay_to_the_solution(tmp_path):
    task, graphs = _trees(tmp_path)
    assert len(graphs) == 24
    kept = removed = 0
    for G in graphs:
        (dfs,) = linearize_dfs(G, task)
        assert linearize_dropped(G, task, {"drop": 0.0})[0]["text"] == dfs["text"]
        (short,) = linearize_shortcut(G, task)
        assert linearize_dropped(G, task, {"drop": 1.0})[0]["lines"] == short["lines"]
        (half,) = linearize_dropped(G, task, {"drop": 0.5, "seed": 3})
        assert half == linearize_dropped(G, task, {"drop": 0.5, "seed": 3})[0]      # seeded per tree
        assert half["kind"] == "dropped" and half["is_correct"] and half["answer"] == dfs["answer"]
        puzzle = G.problem["payload"]["puzzle"]
        assert _replay(puzzle, half["lines"]) == half["answer"].replace(" ", "").replace("\n", "")
        assert set(half["lines"]) <= set(dfs["lines"]) and half["n_backtracks"] <= dfs["n_backtracks"]
        kept += half["n_backtracks"]
        removed += dfs["n_backtracks"] - half["n_backtracks"]
    # Row by row, most of these puzzles need a guess: there are failures both to keep and to drop.
    assert kept > 0 and removed > 0


def test_a_drop_that_is_not_a_probability_is_one_line_and_nothing_is_written(tmp_path):
    db = tmp_path / "none.db"
    out = subprocess.run(journeyforge("linearize", *TREES, "linearize.kinds=[dropped]", "linearize.dropped.drop=1.5",
                                      f"store.url=sqlite:///{db}", f"workdir={tmp_path / 'out'}"),
                         cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "linearize.dropped.drop" in lines[0] and "[0, 1]" in lines[0], out.stderr
    assert not db.exists()
