"""Several `journeyforge explore` processes share one run on PostgreSQL; one of them is SIGKILLed.

Real processes, a real server: leases, SKIP LOCKED claims and fenced wave writes are what keep the
trees whole, and only processes exercise them the way a cluster does.
"""
from __future__ import annotations

import signal
import socket

import pytest
from sqlalchemy.exc import DBAPIError

from tests.explore_processes import (assert_run_is_complete_and_consistent, explore_overrides, fresh_pg_url,  # noqa: F401
                                     journeyforge, kill9, spawn, tree_status, wait_until)

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("overlap", [False, True], ids=["sequential_writes", "overlapped_writes"])
def test_three_workers_finish_every_tree_once_when_one_is_killed(fresh_pg_url, tmp_path, overlap):
    url, n_trees = fresh_pg_url, 24
    cmd = journeyforge("explore", *explore_overrides("shared", url, tmp_path, latency=0.2, n_train=n_trees,
                                                     overlap_writes=overlap))
    # One worker first: it creates the schema, problems and trees, so the others only claim. It is
    # slower (latency never blocks a resume): alone at 0.2 s a wave it finished all 24 trees in 7 s,
    # before the other two had even started.
    first = journeyforge("explore", *explore_overrides("shared", url, tmp_path, latency=1.0, n_train=n_trees,
                                                       overlap_writes=overlap))
    procs = [spawn(first, tmp_path / "worker0.log")]
    try:
        wait_until(lambda: _trees(url) == n_trees, 180, "the first worker to create the run's trees")
        procs += [spawn(cmd, tmp_path / f"worker{i}.log") for i in (1, 2)]
        victim = procs[1]
        victim_id = f"{socket.gethostname()}:{victim.pid}"
        wait_until(lambda: _done(url) >= 4 and _held_by(url, victim_id), 180,
                   "some trees done while the second worker holds trees")
        orphaned = _freeze_while_holding(victim, url, victim_id)  # running under its lease
        kill9(victim)
        assert orphaned
        for proc in (procs[0], procs[2]):
            assert proc.wait(timeout=120) == 0, (tmp_path / "worker0.log").read_text()
    finally:
        for proc in procs:
            if proc.poll() is None:
                kill9(proc)

    assert_run_is_complete_and_consistent(url, "shared", n_trees)
    finishers = {tree_id: claimed_by for tree_id, _, claimed_by, _ in tree_status(url, "shared")}
    survivors = {f"{socket.gethostname()}:{p.pid}" for p in (procs[0], procs[2])}
    assert {finishers[t] for t in orphaned} <= survivors  # the killed worker's trees were taken over
    assert set(finishers.values()) & survivors == survivors  # both survivors did work


def _freeze_while_holding(proc, url: str, worker: str) -> list[int]:
    """SIGSTOP the worker at a moment it holds trees, and return them: between a look at the store
    and a SIGKILL a running worker may finish what it held, leaving nothing orphaned to test."""
    held: list[int] = []

    def frozen_holding() -> bool:
        proc.send_signal(signal.SIGSTOP)
        held[:] = _held_by(url, worker)
        if not held:
            proc.send_signal(signal.SIGCONT)
        return bool(held)

    wait_until(frozen_holding, 60, f"worker {worker} to be frozen while it holds trees", poll=0.1)
    return held


def _trees(url: str) -> int:
    try:
        return len(tree_status(url, "shared"))
    except DBAPIError:  # the first worker has not created the schema yet
        return 0


def _done(url: str) -> int:
    return sum(status == "done" for _, status, _, _ in tree_status(url, "shared"))


def _held_by(url: str, worker: str) -> list[int]:
    return [t for t, status, claimed_by, _ in tree_status(url, "shared") if status == "running" and claimed_by == worker]
