"""Helpers for tests that run `journeyforge` stages as real processes (workers, kill -9, resume).

Every process plays Countdown with the `scripted` policy (no model), whose `latency` makes each wave
slow enough to interrupt. Stores are real: a SQLite file, or a fresh PostgreSQL database per test.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import text

from db.engine import make_engine
from tests.conftest import POSTGRES_URL
from tests.store_backends import scratch_pg_database

REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16", "TOKENIZERS_PARALLELISM": "false",
       "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def fresh_pg_url():
    """URL of a new, empty PostgreSQL database for one test; skips when the server is down."""
    with scratch_pg_database("journeyforge_proc") as url:
        yield url


# Ctrl-C's exit as the shell reports it ($? = 130): exit(130), or death by SIGINT, which CPython 3.11
# chooses after our handler's exit(130) when the interrupt had landed in code compiled from a string
# (namedtuple's eval while a library imports): its "unhandled KeyboardInterrupt" flag stays set.
CTRL_C_EXITS = (130, -signal.SIGINT)


def journeyforge(stage: str, *overrides: str) -> list[str]:
    """The command line of `journeyforge <stage> overrides...` in this interpreter."""
    return [sys.executable, "-m", "journeyforge.cli", stage, *overrides]


def explore_overrides(name: str, url: str, workdir: Path, latency: float = 0.2, n_train: int = 24,
                      lease_seconds: float = 3, overlap_writes: bool = False) -> list[str]:
    """A small scripted explore run: 3 trees at a time, short leases, small MCTS budgets;
    `overlap_writes`: each wave written on a background thread while the next one generates."""
    return [f"name={name}", f"store.url={url}", f"workdir={workdir}", "policy=scripted",
            f"explore.overlap_writes={str(overlap_writes).lower()}",
            f"policy.latency={latency}", f"task.n_train={n_train}", "task.n_test=4",
            "explore.max_active_trees=3", f"explore.lease_seconds={lease_seconds}", "explore.progress=false",
            "explore.poll_seconds=0.5", "search=mcts", "search.k=3", f"search.max_expansions={MAX_EXPANSIONS}",
            "search.max_nodes=40"]


MAX_EXPANSIONS = 4


def spawn(cmd: list[str], log: Path) -> subprocess.Popen:
    """Start `cmd` in the repository root with its output going to `log`."""
    return subprocess.Popen(cmd, cwd=REPO, env=ENV, stdout=log.open("w"), stderr=subprocess.STDOUT)


def run_to_end(cmd: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `cmd` to completion; fail the test with its output unless it exits 0."""
    done = subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(cmd[2:])} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def kill9(proc: subprocess.Popen) -> None:
    """SIGKILL: no handler runs, nothing is released, exactly like a crashed machine."""
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def query(url: str, sql: str, **params) -> list[tuple]:
    """Rows of `sql` against the store at `url` (plain SQL, as a researcher would)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def tree_status(url: str, name: str) -> list[tuple]:
    """(tree id, status, claimed_by, number of stored nodes) of explore run `name`, by tree id."""
    return query(url, """
        SELECT t.id, t.status, t.claimed_by, (SELECT COUNT(*) FROM nodes n WHERE n.tree_id = t.id)
        FROM trees t JOIN runs r ON r.id = t.run_id
        WHERE r.name = :name AND r.stage = 'explore' ORDER BY t.id""", name=name)


def wait_until(condition, timeout: float, what: str, poll: float = 0.2) -> None:
    """Poll `condition()` until it is true; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(poll)


def node_rows(url: str, name: str) -> dict[int, list[tuple]]:
    """Every node of explore run `name` as (id, seq, parent_id, depth, text, label), per tree by seq."""
    rows = query(url, """
        SELECT n.tree_id, n.id, n.seq, n.parent_id, n.depth, n.text, n.label FROM nodes n
        JOIN trees t ON t.id = n.tree_id JOIN runs r ON r.id = t.run_id
        WHERE r.name = :name AND r.stage = 'explore' ORDER BY n.tree_id, n.seq""", name=name)
    by_tree: dict[int, list[tuple]] = {}
    for tree_id, *rest in rows:
        by_tree.setdefault(tree_id, []).append(tuple(rest))
    return by_tree


def assert_run_is_complete_and_consistent(url: str, name: str, n_trees: int) -> None:
    """Every tree done once, its stats matching its stored nodes; nodes without duplicates or
    orphans, seq contiguous per tree, expansions within the search budget."""
    trees = query(url, """
        SELECT t.id, t.status, t.claimed_by, t.stats FROM trees t JOIN runs r ON r.id = t.run_id
        WHERE r.name = :name AND r.stage = 'explore' ORDER BY t.id""", name=name)
    assert len(trees) == n_trees
    assert [status for _, status, _, _ in trees] == ["done"] * n_trees
    assert all(claimed_by for _, _, claimed_by, _ in trees), "a done tree does not record its finisher"
    nodes = node_rows(url, name)
    assert sorted(nodes) == [tree_id for tree_id, *_ in trees]
    duplicates = query(url, "SELECT tree_id, seq FROM nodes GROUP BY tree_id, seq HAVING COUNT(*) > 1")
    assert duplicates == []
    for tree_id, _, _, stats in trees:
        stats = stats if isinstance(stats, dict) else json.loads(stats)
        rows = nodes[tree_id]
        assert [seq for _, seq, *_ in rows] == list(range(len(rows))), f"tree {tree_id}: seq not contiguous"
        ids = {node_id for node_id, *_ in rows}
        roots = [r for r in rows if r[2] is None]
        assert len(roots) == 1 and roots[0][1] == 0, f"tree {tree_id}: not exactly one root at seq 0"
        assert all(parent in ids for _, _, parent, *_ in rows if parent is not None), f"tree {tree_id}: orphan node"
        # Written by the wave that finished the tree: a second finisher (or a write after it) would
        # leave stats that disagree with the stored nodes.
        assert stats["nodes"] == len(rows), f"tree {tree_id}: stats say {stats['nodes']} nodes, {len(rows)} stored"
        assert stats["labels"] == dict(Counter(label for *_, label in rows))
        assert 0 < stats["expansions"] <= MAX_EXPANSIONS
