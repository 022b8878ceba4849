"""experiment.jobs: the plan of parallel jobs (what waits for what, which goes first). The jobs
themselves run in worker processes in tests/test_cpu_lab.py; here, that a worker ends with its parent."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from hydra import compose, initialize_config_dir

from journeyforge.cli import CONF_DIR
from journeyforge.stages.experiment_models import ExperimentParts
from journeyforge.stages.experiment_jobs import Job, chain_costs, plan


def test_a_job_ranks_by_its_own_cost_plus_the_longest_chain_waiting_on_it():
    jobs = [Job("train", "shortcut", 0, 100), Job("eval", "shortcut", 0, 10, after=["train shortcut/s0"]),
            Job("train", "stream", 0, 500), Job("rl", "grpo_stream", 0, 300, after=["train stream/s0"]),
            Job("eval", "grpo_stream", 0, 20, after=["rl grpo_stream/s0"]),
            Job("eval", "stream", 0, 40, after=["train stream/s0"])]
    costs = chain_costs(jobs)
    assert costs["train stream/s0"] == 500 + 300 + 20 and costs["train shortcut/s0"] == 110
    assert costs["eval stream/s0"] == 40


def test_the_lab_preset_plans_every_arm_and_seed_with_grpo_after_its_start_and_streams_first():
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        cfg = compose(config_name="config", overrides=["experiment=cpu_lab"])
    parts = ExperimentParts.of(cfg)
    exp = parts.exp
    data = {"rows": {"shortcut": [{"n_tokens": 25}] * 1500, "stream": [{"n_tokens": 340}] * 1500,
                     "journey": [{"n_tokens": 70}] * 1500}}
    jobs = plan(parts, data)
    by_id = {j.id: j for j in jobs}
    assert len(jobs) == 2 * 5 * 3   # a training (or GRPO) and an evaluation per arm and seed
    for seed in (0, 1, 2):
        assert by_id[f"rl grpo_stream/s{seed}"].after == [f"train stream/s{seed}"]
        assert by_id[f"rl grpo_shortcut/s{seed}"].after == [f"train shortcut/s{seed}"]
        assert by_id[f"eval grpo_stream/s{seed}"].after == [f"rl grpo_stream/s{seed}"]
        assert by_id[f"eval journey/s{seed}"].after == [f"train journey/s{seed}"]
    costs = chain_costs(jobs)
    first = sorted(jobs, key=lambda j: -costs[j.id])[:3]
    assert {j.id for j in first} == {"train stream/s0", "train stream/s1", "train stream/s2"}
    # Without the start arm in this job, GRPO waits for nothing: its start was trained before.
    exp.select = ["grpo_stream"]
    assert all(not j.after for j in plan(parts, data) if j.kind == "rl")


_PARENT = """
import os, sys, time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from journeyforge.stages.experiment_jobs import _start_worker

pool = ProcessPoolExecutor(1, mp_context=get_context("spawn"), initializer=_start_worker, initargs=(1, os.getpid()))
print(pool.submit(os.getpid).result(), flush=True)   # the worker's pid, once it has started
time.sleep(600)
"""


def test_a_worker_ends_when_the_experiment_process_is_killed():
    """`kill <experiment pid>` (SIGTERM to the parent only) must not leave workers training as orphans."""
    parent = subprocess.Popen([sys.executable, "-c", _PARENT], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        worker = int(parent.stdout.readline())
        os.kill(worker, 0)                           # running while its parent is
        parent.send_signal(signal.SIGTERM)
        parent.wait(timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(worker, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            os.kill(worker, signal.SIGKILL)
            raise AssertionError(f"worker {worker} still runs 30 s after its parent was killed")
    finally:
        parent.kill()
