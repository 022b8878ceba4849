"""Explorer workers started by Hydra's launcher plugins: `journeyforge explore -m explore.worker_index=...`.

The local test is real: `hydra/launcher=submitit_local` starts three worker processes (one per sweep
job) on one run in the real PostgreSQL server, one of them is SIGKILLed, and the others finish its
trees. SLURM cannot run here, so the SLURM test runs Hydra's submitit_slurm launcher up to `sbatch`
(a stand-in on PATH that keeps the submission file) and checks what would be submitted.
"""
from __future__ import annotations

import os
import pickle
import signal
import socket
import stat
import time
from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError

from tests.explore_processes import (assert_run_is_complete_and_consistent, explore_overrides, fresh_pg_url,  # noqa: F401
                                     journeyforge, spawn, tree_status, wait_until)

HOST = socket.gethostname()


def _status(url: str, name: str) -> list[tuple]:
    try:
        return tree_status(url, name)
    except DBAPIError:  # no worker has created the schema yet
        return []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _pid(worker: str) -> int:
    host, _, pid = worker.rpartition(":")
    assert host == HOST and pid.isdigit(), f"unexpected worker id {worker!r}"
    return int(pid)


@pytest.mark.postgres
def test_submitit_local_sweep_runs_three_workers_on_one_run_and_covers_a_killed_one(fresh_pg_url, tmp_path):
    url, n_trees, name = fresh_pg_url, 24, "swept"
    cmd = journeyforge("explore", "-m", *explore_overrides(name, url, tmp_path, latency=0.2, n_train=n_trees),
                       "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10",
                       "explore.worker_index=0,1,2")
    sweep = spawn(cmd, tmp_path / "sweep.log")
    seen: set[str] = set()  # every worker that has held a tree

    def holders() -> dict[str, list[int]]:
        held: dict[str, list[int]] = {}
        for tree_id, status, claimed_by, _ in _status(url, name):
            if status == "running" and claimed_by:
                held.setdefault(claimed_by, []).append(tree_id)
        seen.update(held)
        return held

    try:
        # All three start together against an empty database (schema, problems and trees created
        # concurrently); each claims its own trees.
        wait_until(lambda: len(holders()) == 3 or len(seen) == 3, 180,
                   f"three workers holding trees (log: {tmp_path / 'sweep.log'})")
        assert sweep.poll() is None, (tmp_path / "sweep.log").read_text()
        done = lambda: sum(status == "done" for _, status, _, _ in _status(url, name))  # noqa: E731
        victim: list[str] = []

        def victim_chosen() -> bool:
            held = holders()
            if done() >= 3 and held:
                victim[:] = [max(held, key=lambda w: len(held[w]))]
            return bool(victim)

        wait_until(victim_chosen, 120, "some trees done while a worker holds trees")
        [victim_id] = victim
        orphaned: list[int] = []

        def frozen_holding() -> bool:
            # Frozen first, then read: between a look at the store and a SIGKILL a running worker may
            # finish what it held, leaving nothing orphaned to test.
            os.kill(_pid(victim_id), signal.SIGSTOP)
            orphaned[:] = holders().get(victim_id, [])
            if not orphaned:
                os.kill(_pid(victim_id), signal.SIGCONT)
            return bool(orphaned)

        wait_until(frozen_holding, 60, f"worker {victim_id} to be frozen while it holds trees", poll=0.1)
        os.kill(_pid(victim_id), signal.SIGKILL)
        assert orphaned, "the killed worker held no tree"
        wait_until(lambda: done() == n_trees, 180, "the surviving workers to finish every tree")
        survivors = seen - {victim_id}
        wait_until(lambda: not any(_alive(_pid(w)) for w in survivors), 60, "the surviving workers to exit")
        # The launcher reports the killed job (its exit status is not 0) once the others are done.
        sweep.wait(timeout=60)
    finally:
        if sweep.poll() is None:
            sweep.kill()
            sweep.wait(timeout=30)
        for worker in seen:
            if _alive(_pid(worker)):
                os.kill(_pid(worker), signal.SIGKILL)

    assert len(seen) == 3
    assert_run_is_complete_and_consistent(url, name, n_trees)
    finishers = {tree_id: claimed_by for tree_id, _, claimed_by, _ in tree_status(url, name)}
    assert {finishers[t] for t in orphaned} <= survivors  # the killed worker's trees were taken over
    assert set(finishers.values()) & survivors == survivors  # both survivors did work
    logs = "".join(p.read_text() for p in (tmp_path / "multirun").rglob("*_log.out"))
    assert sorted(int(line.split()[2]) for line in logs.splitlines() if line.startswith("[explore] worker ")) \
        == [0, 1, 2]


SLURM_OVERRIDES = [
    "hydra/launcher=submitit_slurm", "hydra.launcher.partition=gpu", "hydra.launcher.gpus_per_node=1",
    "hydra.launcher.cpus_per_task=8", "hydra.launcher.mem_gb=64", "hydra.launcher.timeout_min=720",
    "hydra.launcher.array_parallelism=4",
]


def test_submitit_slurm_sweep_submits_one_array_task_per_worker(tmp_path, monkeypatch):
    import submitit
    from hydra import compose, initialize_config_dir
    from hydra.core.utils import setup_globals
    from hydra.utils import instantiate

    from journeyforge.cli import CONF_DIR, check_overrides

    # Stand-ins for SLURM's commands: sbatch keeps the submission file and answers as SLURM does;
    # srun is only looked for (submitit checks that it runs on a cluster) and never run.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for command, body in (("sbatch", f'cp "$1" {tmp_path}/submitted.sh\necho "Submitted batch job 4242"'),
                          ("srun", "exit 1")):
        path = bin_dir / command
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    # Nothing runs, so nothing can be waited for: the sweep's results are taken as empty.
    monkeypatch.setattr(submitit.SlurmJob, "results", lambda self: [None])

    workers = [f"explore.worker_index={i}" for i in range(4)]
    overrides = ["store=postgres", "store.url=postgresql+psycopg://me@dbhost/traces", "policy=openai",
                 "policy.model=Qwen/Qwen2.5-Math-7B-Instruct", "policy.base_url=http://gpu-node:8000/v1",
                 f"workdir={tmp_path}", *SLURM_OVERRIDES]
    # The command line a user types passes the CLI's own checks (every setting of every job).
    assert check_overrides([*overrides, "explore.worker_index=0,1,2,3"]) is None
    setup_globals()  # Hydra's ${now:...} resolver of the sweep directory
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        cfg = compose(config_name="config", overrides=overrides, return_hydra_config=True)
    launcher = instantiate(cfg.hydra.launcher)
    launcher.setup(hydra_context=None, task_function=lambda job_cfg: None, config=cfg)
    launcher.launch([[*overrides, w] for w in workers], initial_job_idx=0)

    script = (tmp_path / "submitted.sh").read_text()
    flags = {line.split()[1].split("=")[0]: line.split()[1].partition("=")[2]
             for line in script.splitlines() if line.startswith("#SBATCH ")}
    assert flags["--partition"] == "gpu"
    assert flags["--gpus-per-node"] == "1"
    assert flags["--cpus-per-task"] == "8"
    assert flags["--mem"] == "64GB"
    assert flags["--time"] == "720"
    assert flags["--array"] == "0-3%4"  # one array task per worker, at most 4 at once
    assert flags["--ntasks-per-node"] == "1" and flags["--nodes"] == "1"  # one worker per task
    assert "srun" in script and "submitit.core._submit" in script
    # Each array task runs one sweep job, i.e. one worker with its own index.
    submitted = sorted(Path(tmp_path, "multirun").rglob("4242_*_submitted.pkl"))
    assert len(submitted) == 4
    jobs = []
    for path in submitted:
        with path.open("rb") as handle:
            delayed = pickle.load(handle)
        jobs.append(delayed.args[0])
    assert sorted(job[-1] for job in jobs) == workers
    assert all("store=postgres" in job for job in jobs)


@pytest.mark.parametrize("launcher", ["submitit_local", "joblib"])
def test_launcher_options_are_checked_before_a_sweep_starts(launcher):
    from journeyforge.cli import check_overrides

    assert check_overrides([f"hydra/launcher={launcher}", "explore.worker_index=0,1,2"]) is None
    problem = check_overrides([f"hydra/launcher={launcher}", "explore.worker_index=0,-1"])
    assert problem == "explore.worker_index must be an integer >= 0 or null, got -1"
    assert "not a hydra/launcher config" in check_overrides(["hydra/launcher=submitit_slurmm"])
    time.sleep(0)
