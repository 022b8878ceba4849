"""experiment.jobs > 1: the experiment's trainings and evaluations as parallel jobs on one store.

Every (arm, seed) trains in a worker process, a GRPO arm as soon as its start is trained, and every
model is answered as soon as it is trained. Why processes, not threads in one: a student of a few
million parameters has matmuls too small for intra-op threads to pay off, while two students train
side by side at nearly the speed of one each. Jobs are started longest chain first (a stream
student and its GRPO arm before a shortcut student), so the slowest arm never waits at the end.

A worker writes its own `train` / `rl` run rows, as the one-process path does, and marks them
failed when it fails; the answers come back to this process, which alone writes the eval run, so
its fingerprints and seconds are never written by two processes at once. Each job's output goes to
`<experiment.dir>/logs/<arm>-s<seed>.log` (`eval-<arm>-s<seed>.log` for its answers); this process
prints one line as each job starts and ends.
"""
from __future__ import annotations

import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from journeyforge.stages.experiment_eval import EvalRecord, answer, held_out
from journeyforge.stages.experiment_models import ExperimentParts, model_entry, model_label, model_seeds


@dataclass
class Job:
    kind: str                      # train | rl | eval
    arm: str
    seed: int | None
    cost: float                    # rough work (tokens), for the longest-chain-first order
    after: list[str] = field(default_factory=list)   # ids of the jobs that must end first

    @property
    def id(self) -> str:
        return f"{self.kind} {model_label(self.arm, self.seed)}"

    def log_name(self) -> str:
        stem = self.arm if self.seed is None else f"{self.arm}-s{self.seed}"
        return f"eval-{stem}.log" if self.kind == "eval" else f"{stem}.log"


def plan(parts: ExperimentParts, data: dict[str, Any]) -> list[Job]:
    """The jobs of this experiment's selected arms and seeds, with what each waits for. Costs are
    tokens of work: a training's epochs x its examples' tokens (or steps x batch x mean tokens); GRPO's generated tokens (x5: sampling
    one token costs about five trained ones here); an evaluation's answers x the arm's mean length."""
    tokens = {name: sum(r["n_tokens"] for r in rows) for name, rows in data["rows"].items()}
    mean = {name: tokens[name] / max(1, len(rows)) for name, rows in data["rows"].items()}
    exp, n_problems = parts.exp, parts.eval.n_problems
    jobs: list[Job] = []
    for name in exp.selected():
        arm = exp.arms[name]
        samples = 1 + (exp.samples if name in exp.sample_arms else 0)
        for seed in model_seeds(exp, name):
            trained: list[str] = []
            if arm.kind == "rl":
                rl = parts.rl_arm(name, seed)
                job = Job("rl", name, seed, 5.0 * rl.max_steps * rl.num_generations * rl.max_completion_length)
                if arm.init in exp.selected():  # else its start was trained by an earlier command
                    job.after.append(Job("train", arm.init, seed, 0).id)
                jobs.append(job)
                trained = [job.id]
            elif arm.kind != "base":
                sft = parts.sft(name, seed)
                work = (sft.max_steps * sft.per_device_train_batch_size * mean.get(name, 0.0) if sft.max_steps > 0
                        else sft.epochs * tokens.get(name, 0))
                jobs.append(Job("train", name, seed, work))
                trained = [jobs[-1].id]
            length = mean.get(arm.init if arm.kind == "rl" else name, 50.0)
            jobs.append(Job("eval", name, seed, n_problems * samples * length, after=trained))
    return jobs


def chain_costs(jobs: list[Job]) -> dict[str, float]:
    """Each job's cost plus that of the longest chain of jobs waiting on it."""
    after = {j.id: [k for k in jobs if j.id in k.after] for j in jobs}
    memo: dict[str, float] = {}

    def chain(job: Job) -> float:
        if job.id not in memo:
            memo[job.id] = job.cost + max((chain(k) for k in after[job.id]), default=0.0)
        return memo[job.id]

    return {j.id: chain(j) for j in jobs}


def _start_worker(threads: int, parent: int | None = None) -> None:
    import logging

    import torch

    torch.set_num_threads(threads)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if parent is not None:
        _end_with_parent(parent)


def _end_with_parent(parent: int, every_s: float = 2.0) -> None:
    """End this worker once `parent` is gone. A `kill` of the experiment's process (SIGTERM, not the
    process group's Ctrl-C) otherwise leaves its workers training on for an hour as orphans, holding
    the cores and writing runs that nothing will collect."""
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        os._exit(1)

    threading.Thread(target=watch, name="end-with-parent", daemon=True).start()


@contextmanager
def _output_to(path: Path):
    """This process's stdout and stderr (file descriptors, so tqdm and C libraries too) into `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "a") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def _work(job: Job, config: dict, parts: ExperimentParts, paths: dict[str, str], log: str,
          entry: tuple | None) -> Any:
    """One job in a worker: train, rl (both write their own run rows) or eval (returns the answers).
    `parts` are the parent's settings objects (pickled), `config` its resolved config as a plain
    mapping, for the store, the task and the policy."""
    from journeyforge.components import build_task, open_store
    from journeyforge.stages.common import fail_started_runs
    from journeyforge.stages.experiment_models import train_arm, train_rl_arm

    cfg = OmegaConf.create(config)  # the parent's resolved config as it is: nothing is changed in it
    with _output_to(Path(log)):
        try:
            task = build_task(cfg)
            with open_store(cfg) as store:
                if job.kind == "train":
                    return train_arm(cfg, parts, store, Path(paths[job.arm]), job.arm, job.seed)
                if job.kind == "rl":
                    return train_rl_arm(cfg, parts, store, task, Path(paths["rl-prompts"]), job.arm, job.seed)
                t0 = time.perf_counter()
                results = answer(cfg, parts.eval, task, held_out(parts.eval, store, task), entry)
                return results, time.perf_counter() - t0
        except BaseException as err:
            fail_started_runs(" ".join(str(err).split()))
            raise


def run_jobs(cfg: DictConfig, parts: ExperimentParts, store, task, data: dict[str, Any],
             paths: dict[str, Path]) -> tuple[dict[str, dict], dict[str, Any]]:
    """Run every job of `plan` on `experiment.jobs` workers; returns (training summaries by label, the
    evaluation as `evaluate_arms` returns it)."""
    exp = parts.exp
    jobs = plan(parts, data)
    order = chain_costs(jobs)
    record = EvalRecord(cfg, parts, store, task, held_out(parts.eval, store, task))
    config = OmegaConf.to_container(cfg, resolve=True)
    logs = Path(exp.dir) / "logs"
    threads = max(1, (os.cpu_count() or 1) // exp.jobs)
    pending, running, done = list(jobs), {}, set()
    trained: dict[str, dict] = {}
    print(f"[experiment] {len(jobs)} jobs on {exp.jobs} workers ({threads} thread(s) each); logs in {logs}")
    pool = ProcessPoolExecutor(exp.jobs, mp_context=get_context("spawn"), initializer=_start_worker,
                               initargs=(threads, os.getpid()))
    try:
        while pending or running:
            ready = sorted((j for j in pending if set(j.after) <= done), key=lambda j: -order[j.id])
            for job in ready[: exp.jobs - len(running)]:
                pending.remove(job)
                entry = model_entry(parts, job.arm, job.seed) if job.kind == "eval" else None
                if entry is not None and record.is_stored(entry):
                    done.add(job.id)
                    continue
                log = logs / job.log_name()
                running[pool.submit(_work, job, config, parts, {k: str(v) for k, v in paths.items()}, str(log),
                                    entry)] = \
                    (job, entry, time.perf_counter())
                print(f"[experiment] {job.id}: started (log {log})")
            if not running:
                continue
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                job, entry, t0 = running.pop(future)
                result = future.result()   # a job's error ends the experiment here, with its own message
                if job.kind == "eval":
                    results, seconds = result
                    record.store_answers(entry, results, seconds)
                else:
                    trained[model_label(job.arm, job.seed)] = result
                done.add(job.id)
                print(f"[experiment] {job.id}: done in {(time.perf_counter() - t0) / 60:.1f} min")
    except BaseException as err:
        # Stop the other jobs at once rather than let a 20-minute training finish for nothing; what
        # they stored stays, and the same command resumes from it.
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        _fail_stopped(cfg, store, [job for job, _, _ in running.values()], err)
        raise
    pool.shutdown(wait=True)
    return trained, record.finish()


def _fail_stopped(cfg: DictConfig, store, stopped: list[Job], err: BaseException) -> None:
    """Mark the run rows of jobs stopped mid-way as failed, so `runs` shows none of them still going."""
    why = f"stopped: another job of the experiment ended with {type(err).__name__}"
    for job in stopped:
        if job.kind in ("train", "rl"):
            row = store.get_run(f"{cfg.name}/{job.arm}-s{job.seed}", job.kind)
            if row is not None and row["status"] == "running":
                store.fail_run(row["id"], why)
