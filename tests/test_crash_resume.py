"""`kill -9` during explore, then the same command again: the run completes without redoing or
duplicating work; linearize and export re-run with the same name give the same rows, not twice as many.

Real processes against a real SQLite file and a real PostgreSQL database.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError

from tests.explore_processes import (CTRL_C_EXITS, assert_run_is_complete_and_consistent,  # noqa: F401
                                     explore_overrides, fresh_pg_url, journeyforge, kill9, node_rows, query,
                                     run_to_end, spawn, tree_status, wait_until)

N_TREES = 12


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def process_store_url(request, tmp_path) -> str:
    """A store URL every process of the test can open, once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'traces.db'}"
    return request.getfixturevalue("fresh_pg_url")


# explore.overlap_writes: the kill can land while a wave's transaction runs on the writer thread
OVERLAP = pytest.mark.parametrize("overlap", [False, True], ids=["sequential_writes", "overlapped_writes"])


@OVERLAP
def test_explore_killed_mid_run_resumes_without_redoing_or_duplicating_work(process_store_url, tmp_path, overlap):
    url = process_store_url
    cmd = journeyforge("explore", *explore_overrides("crash", url, tmp_path, latency=0.3, n_train=N_TREES,
                                                     overlap_writes=overlap))
    proc = _kill_mid_run(cmd, url, tmp_path)
    statuses = tree_status(url, "crash")
    nodes_before = node_rows(url, "crash")
    done_before = {t for t, status, _, _ in statuses if status == "done"}
    partial = {t for t, status, _, n in statuses if status == "running" and n > 1}
    assert done_before and partial, statuses
    # the dead worker still holds its trees: nothing ran on kill -9
    assert {claimed_by for t, _, claimed_by, _ in statuses if t in partial} == {f"{socket.gethostname()}:{proc.pid}"}
    values_before = _node_values(url, done_before)

    run_to_end(cmd)  # the same command again

    assert_run_is_complete_and_consistent(url, "crash", N_TREES)
    nodes_after = node_rows(url, "crash")
    for t in done_before:  # finished trees are not redone: every row unchanged
        assert nodes_after[t] == nodes_before[t]
    assert _node_values(url, done_before) == values_before
    for t in partial:  # partial trees continue from their stored nodes
        assert nodes_after[t][: len(nodes_before[t])] == nodes_before[t]
    assert sum(len(nodes_after[t]) > len(nodes_before[t]) for t in partial) >= 1


def test_linearize_and_export_rerun_give_the_same_rows_and_replace_the_export(process_store_url, tmp_path):
    url = process_store_url
    common = [f"store.url={url}", f"workdir={tmp_path}", "name=again", "task.n_test=4", "linearize=matched"]
    run_to_end(journeyforge("explore", *explore_overrides("again", url, tmp_path, latency=0.0, n_train=6)))

    # In this process (stage functions, as the CLI calls them): a process per stage would spend
    # most of this test importing libraries.
    _stage("linearize", common)
    first = _trajectories(url)
    _stage("linearize", common)
    assert first and _trajectories(url) == first

    out = tmp_path / "datasets"
    _stage("export", common)
    files, rows = _export_contents(out)
    [export_dir] = [d for d in out.iterdir() if d.is_dir()]  # one directory per set of kinds
    (export_dir / "stale-from-an-older-export.txt").write_text("must not survive a re-export")
    _stage("export", common)
    assert _export_contents(out) == (files, rows)
    assert sum(len(split_rows) for split_rows in rows.values()) > 0


def _stage(stage: str, overrides: list[str]) -> dict:
    from hydra import compose, initialize_config_dir

    from journeyforge.cli import CONF_DIR
    from journeyforge.stages import STAGES

    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        cfg = compose(config_name="config", overrides=overrides)
    return STAGES[stage](cfg)


def _kill_mid_run(cmd: list[str], url: str, tmp_path: Path):
    """Start `cmd`, kill -9 it once some trees are finished and some partly grown; the process."""
    proc = spawn(cmd, tmp_path / "killed.log")
    try:
        wait_until(lambda: _finished_and_partial(url), 180, "finished trees and partly grown ones")
    finally:
        kill9(proc)
    return proc


def _finished_and_partial(url: str) -> bool:
    try:
        statuses = tree_status(url, "crash")
    except DBAPIError:  # the schema is not there yet
        return False
    done = sum(status == "done" for _, status, _, _ in statuses)
    partial = sum(status == "running" and n > 1 for _, status, _, n in statuses)
    return done >= 2 and partial >= 1


def _node_values(url: str, trees: set[int]) -> list[tuple]:
    rows = query(url, "SELECT tree_id, id, visits, value, count, reward FROM nodes ORDER BY id")
    return [r for r in rows if r[0] in trees]


def _trajectories(url: str) -> list[tuple]:
    return query(url, """
        SELECT tr.tree_id, tr.kind, tr.idx, tr.text, tr.answer, tr.n_steps, tr.n_backtracks, tr.is_correct
        FROM trajectories tr JOIN runs r ON r.id = tr.run_id
        WHERE r.name = 'again' AND r.stage = 'linearize' ORDER BY tr.tree_id, tr.kind, tr.idx""")


def _export_contents(out: Path) -> tuple[list[str], dict[str, list[dict]]]:
    """(every file path under `out` except arrow shards and their fingerprinted state, the rows of
    every dataset split, keyed by its path)."""
    import datasets

    files, rows = [], {}
    for root, _, names in os.walk(out):
        for name in names:
            rel = str((Path(root) / name).relative_to(out))
            files.append(rel)
            if name == "dataset_info.json":
                rows[str(Path(rel).parent)] = datasets.load_from_disk(root).to_list()
    return sorted(files), rows


@OVERLAP
def test_rollouts_survive_kill_9_neither_lost_nor_duplicated(tmp_path, overlap):
    """With Monte-Carlo values, a wave's rollouts are written with its nodes: after kill -9 and a
    re-run, every valued node has exactly its M rollouts and its value agrees with them."""
    url = f"sqlite:///{tmp_path / 'traces.db'}"
    cmd = journeyforge("explore", *explore_overrides("crash", url, tmp_path, latency=0.3, n_train=N_TREES,
                                                     overlap_writes=overlap),
                       "search.value=rollout", "search.rollouts=3")
    _kill_mid_run(cmd, url, tmp_path)
    before = query(url, "SELECT node_id, idx, text FROM rollouts ORDER BY node_id, idx")
    assert before
    run_to_end(cmd)
    assert_run_is_complete_and_consistent(url, "crash", N_TREES)
    after = query(url, "SELECT node_id, idx, text FROM rollouts ORDER BY node_id, idx")
    assert after[: len(before)] == before  # nothing rewritten
    per_node = query(url, """
        SELECT n.id, n.mc_value, COUNT(r.id), SUM(CASE WHEN r.is_correct THEN 1 ELSE 0 END), COUNT(DISTINCT r.idx)
        FROM nodes n JOIN rollouts r ON r.node_id = n.id GROUP BY n.id, n.mc_value""")
    assert per_node
    for node_id, mc_value, count, correct, distinct in per_node:
        assert count == distinct == 3, node_id
        assert abs(mc_value - correct / 3) < 1e-9, node_id
    unvalued = query(url, "SELECT COUNT(*) FROM nodes WHERE mc_value IS NOT NULL AND id NOT IN "
                          "(SELECT node_id FROM rollouts)")
    assert unvalued == [(0,)]


@OVERLAP
def test_ctrl_c_ends_in_one_line_and_hands_the_trees_back(tmp_path, overlap):
    import signal
    import subprocess

    url = f"sqlite:///{tmp_path / 'traces.db'}"
    # Many trees: on loaded cores the poll below can lag, and the run must still be going when it stops.
    cmd = journeyforge("explore", *explore_overrides("crash", url, tmp_path, latency=0.3, n_train=25 * N_TREES,
                                                     overlap_writes=overlap))
    # A test run started in the background (`cmd &` in a script) inherits an ignored SIGINT, and
    # Python keeps it ignored: give the child the default disposition, as a terminal would.
    proc = subprocess.Popen(cmd, cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    wait_until(lambda: _finished_and_partial(url), 180, "finished trees and partly grown ones")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode in CTRL_C_EXITS, (out[-2000:], err[-2000:], tree_status(url, "crash"))
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("journeyforge explore: interrupted")
    assert {status for _, status, _, _ in tree_status(url, "crash")} <= {"done", "pending"}


@pytest.mark.parametrize("after", [0.1, 0.6])
def test_ctrl_c_while_the_command_starts_ends_in_one_line(tmp_path, after):
    """Ctrl-C in the first second, while the stage's libraries import and the settings are checked:
    the same one line as later, no traceback."""
    import signal
    import subprocess
    import time

    url = f"sqlite:///{tmp_path / 'traces.db'}"
    cmd = journeyforge("explore", *explore_overrides("crash", url, tmp_path, latency=0.3, n_train=N_TREES))
    proc = subprocess.Popen(cmd, cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(after)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode in CTRL_C_EXITS, (out[-2000:], err[-2000:])
    assert "Traceback" not in err and err.strip().splitlines() == [
        "journeyforge explore: interrupted; what was finished is stored, the same command resumes"]
