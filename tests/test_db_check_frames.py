"""`journeyforge db check` reports, per run, stored model text that holds frame markers."""
from __future__ import annotations

from db import TraceStore
from journeyforge.db_check import frame_markers, run_checks


def _store(path) -> str:
    url = f"sqlite:///{path}"
    with TraceStore(url) as store:
        [pid] = store.add_problems([{"dataset": "countdown", "key": "3,5,7->22", "split": "train",
                                     "payload": {"nums": [3, 5, 7], "target": 22}, "answer": "3 * 5 + 7"}])
        run = store.start_run("demo", "explore", {"task": {"name": "countdown", "dataset": "countdown"}})
        [tree] = store.create_trees(run, [pid])
        root = {"tree_id": tree, "parent_id": None, "seq": 0, "depth": 0, "text": "", "label": "root"}
        [root_id] = store.add_nodes([root])
        steps = ["9+(5*2)</think>", "3 * 5 = 15. Left: 7, 15", "</think>\n<answer>3 * 5 + 7</answer>",
                 "15 - 7 = 8<|im_end|>", "5 < 7, so 7 + 5 = 12"]
        store.add_nodes([{"tree_id": tree, "parent_id": root_id, "seq": i + 1, "depth": 1, "text": t,
                          "label": "invalid"} for i, t in enumerate(steps)])
        lin = store.start_run("demo", "linearize", {})
        twice = "<think>\n9+(5*2)</think>\n3 * 5 = 15\n</think>\n<answer>3 * 5 + 7</answer>"
        store.replace_trajectories(lin, tree, "stream", [
            {"tree_id": tree, "kind": "stream", "idx": 0, "text": twice, "node_ids": [], "answer": "3 * 5 + 7",
             "n_steps": 2, "n_backtracks": 0, "is_correct": True}])
    return url


def test_db_check_counts_nodes_with_frame_markers_per_run(tmp_path):
    url = _store(tmp_path / "t.db")
    lines, found = run_checks(url, [frame_markers])
    assert found == 1
    report = "\n".join(lines)
    # Three of the five steps hold markers; "5 < 7" is not one.
    assert "run 'demo' (explore, id 1): 3 of 5 nodes hold frame markers in their text (</think> 2, " in report
    assert "<answer> 1" in report and "<|im_end|> 1" in report
    assert "run 'demo' (linearize, id 2): 1 trajectories close their reasoning twice" in report


def test_db_check_reports_nothing_for_a_clean_store(tmp_path):
    url = f"sqlite:///{tmp_path / 'clean.db'}"
    TraceStore(url).close()
    lines, found = run_checks(url, [frame_markers])
    assert found == 0 and lines[-1].endswith(": none")
