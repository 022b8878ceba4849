"""The explorer at rStar-Math scale against a simulated H100-class engine (policy=simulated).

2,500 active GSM8K trees, MCTS with k=4 children per expansion and 16 Monte-Carlo rollouts per new
node (search.value=rollout): a wave asks for 10,000 steps and then 160,000 completions, and writes
about 170,000 rows. The engine answers with the task's own steps and gold-solution completions (the
scripted policy) but takes as long as vLLM on one H100 would (search/policies/simulated.py), so what
is measured is what a GPU run would see of the explorer's Python, the store and the wave barrier.

    .venv/bin/python benchmarks/explore_scale.py                          # SQLite and PostgreSQL, 1 and 4 workers, 3 waves
    .venv/bin/python benchmarks/explore_scale.py --trees 500 --waves 2 --stores sqlite --workers 1

Per (store, workers) it prints, over the waves (claiming the trees and writing their roots is setup):
- busy: the engine's busy share, simulated engine seconds / the run's wall time on a GPU (wall time
  here with each engine call taking its simulated time: not the time this CPU took to make the texts,
  an artefact of simulating). `busy_here`: over this machine's wall time. With several workers each
  has its own engine (one GPU each); the mean is shown.

By default the engine does not wait out its time (`pace=False`, a virtual clock): one wave of 2,500
trees is about ten minutes of an H100. For one worker the explorer is sequential (it waits for each
`generate`), so the virtual clock gives the same shares as waiting (`--paced`, checked at 100 trees).
For four workers it is pessimistic: their explorers compete for this machine's cores at all times
instead of while the other engines run.
- nodes/wave, rollouts/wave: new nodes and rollouts written per wave (identical samples of a node
  merge into one child, so a wave has fewer than trees x k new nodes).
- cpu/node, cpu/rollout: the explorer process's CPU (search, task, values, store client) per new
  node and per rollout, without the CPU the simulated engine spent making texts.
- store s/wave: `write_wave` seconds per wave (one transaction: nodes, rollouts, updates).
- barrier s/wave: engine idle per wave because of the wave barrier: time in which the engine had no
  work (the explorer between its two calls and the store write) plus, inside the engine, decode time
  in which the batch waited for its longest completion with fewer sequences than it can run.
- peak MiB: the largest resident set of one explorer process.
- rows/s: nodes plus rollouts written per wall second, all workers together.
Math-verify runs in its own worker processes (search/tasks/math/verifier.py): their CPU is not in
cpu/rollout; the wait for them is.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import queue
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from db import TraceStore  # noqa: E402
from search.algorithms import SearchSettings, make_algorithm  # noqa: E402
from search.explorer import Explorer, ExploreSettings  # noqa: E402
from search.policies.simulated import SimulatedPolicy  # noqa: E402
from search.tasks import make_task  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent


def _task(trees: int):
    return make_task({"name": "math", "n_train": trees, "n_test": 0, "seed": 0})


def _settings(args, active: int, worker: str) -> tuple[SearchSettings, ExploreSettings]:
    search = SearchSettings(algorithm="mcts", k=args.k, max_expansions=args.waves + 2, max_depth=12,
                            value="rollout", rollouts=args.rollouts, rollout_max_tokens=args.rollout_max_tokens)
    explore = ExploreSettings(max_active_trees=active, max_tokens=64, progress=False, worker=worker,
                              max_waves=args.waves, seed=0, overlap_writes=args.overlap_writes)
    return search, explore


def worker_main(url: str, run_id: int, index: int, active: int, args, out) -> None:
    """One explorer process: its own engine, `active` trees, `args.waves` timed waves; puts its numbers on `out`."""
    task = _task(args.trees)
    # Four SQLite writers whose wave transactions take tens of seconds each wait longer for the write
    # lock than the 20 s default (measured: "database is locked" at 2,500 trees x 16 rollouts).
    store = TraceStore(url, busy_timeout=args.busy_timeout)
    policy = SimulatedPolicy(task, seed=0, error_rate=args.error_rate, pace=args.paced)
    search, explore = _settings(args, active, f"bench-{index}")
    explorer = Explorer(store, task, policy, make_algorithm(search), explore)
    marks: list[tuple] = []
    wave = explorer._wave

    def timed_wave(active_trees, summary):
        # claiming the trees and writing their roots come before: timing starts at the first wave
        if not marks:
            marks.append(_mark(policy, summary))
        result = wave(active_trees, summary)
        marks.append(_mark(policy, summary))
        return result

    explorer._wave = timed_wave
    summary = explorer.run(run_id)
    # The last wave ends when its transaction is committed: with overlapped writes that is after
    # its timed_wave returned (run() waits for it before it returns).
    marks[-1] = _mark(policy, summary)
    store.close()
    first, last = marks[0], marks[-1]
    delta = {k: last[i] - first[i] for i, k in enumerate(MARKS)}
    delta["waves"] = len(marks) - 1
    delta["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    delta["trees"] = summary.trees
    out.put(delta)


MARKS = ("wall", "cpu", "engine_cpu", "simulated", "overrun", "straggler", "generate", "store", "nodes", "rollouts")


def _mark(policy: SimulatedPolicy, summary) -> tuple:
    return (time.perf_counter(), time.process_time(), policy.busy_cpu_seconds, policy.simulated_seconds,
            policy.overrun_seconds, policy.straggler_seconds, policy.stats.seconds, summary.store_seconds,
            summary.nodes, summary.rollouts)


def run_case(url: str, workers: int, args) -> dict:
    """Set up one run of `args.trees` trees in the store at `url` (untimed), explore it with `workers`
    processes and combine their numbers."""
    task = _task(args.trees)
    problems = [p for p in task.load_problems() if p.split == "train"][: args.trees]
    store = TraceStore(url)
    ids = store.add_problems([p.row() for p in problems])
    run_id = store.start_run(f"scale-{workers}", "explore", {})
    store.create_trees(run_id, ids)
    store.close()
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    active = -(-len(ids) // workers)
    procs = [ctx.Process(target=worker_main, args=(url, run_id, i, active, args, out)) for i in range(workers)]
    for p in procs:
        p.start()
    results = []
    while len(results) < len(procs):   # a worker that dies ends the case instead of hanging it
        try:
            results.append(out.get(timeout=5))
        except queue.Empty:
            dead = [p.exitcode for p in procs if p.exitcode]
            if dead:
                for p in procs:
                    p.kill()
                raise SystemExit(f"explore_scale: a worker exited with {dead[0]} (its error is above)")
    for p in procs:
        p.join()
        if p.exitcode:
            raise SystemExit(f"explore_scale: worker exited with {p.exitcode}")
    for r in results:
        # The GPU run's wall time: the engine takes `simulated`, not what making the texts took here
        # (nor nothing, on the virtual clock).
        r["gpu_wall"] = r["wall"] - r["generate"] + r["simulated"]
    wall = max(r["gpu_wall"] for r in results)
    nodes, rollouts = sum(r["nodes"] for r in results), sum(r["rollouts"] for r in results)
    busy = [r["simulated"] / r["gpu_wall"] for r in results]
    busy_here = [r["simulated"] / r["wall"] for r in results]
    explorer_cpu = sum(r["cpu"] - r["engine_cpu"] for r in results)
    waves = min(r["waves"] for r in results)
    idle = [(r["gpu_wall"] - r["simulated"] + r["straggler"]) / r["waves"] for r in results]
    return {
        "workers": workers, "trees": len(ids), "waves": waves, "wall": wall, "nodes": nodes, "rollouts": rollouts,
        "busy": sum(busy) / len(busy), "busy_here": sum(busy_here) / len(busy_here) if args.paced else None,
        "cpu_per_node_ms": 1000 * explorer_cpu / max(nodes, 1), "cpu_per_rollout_us": 1e6 * explorer_cpu / max(rollouts, 1),
        "store_per_wave": sum(r["store"] for r in results) / len(results) / waves,
        "straggler_per_wave": sum(r["straggler"] for r in results) / len(results) / waves,
        "barrier_per_wave": sum(idle) / len(idle),
        "engine_per_wave": sum(r["simulated"] for r in results) / len(results) / waves,
        "overrun_per_wave": sum(r["overrun"] for r in results) / len(results) / waves,
        "peak_mib": max(r["peak_mib"] for r in results), "rows_per_s": (nodes + rollouts) / wall,
    }


HEADER = (f"{'store':<10} {'workers':>7} {'trees':>6} {'waves':>5} {'busy':>5} {'busy_here':>9} {'engine s/wave':>13} "
          f"{'nodes/wave':>10} {'rollouts/wave':>13} {'cpu/node ms':>11} {'cpu/rollout us':>14} {'store s/wave':>12} {'barrier s/wave':>14} "
          f"{'(straggler)':>11} {'peak MiB':>8} {'rows/s':>8}")


def print_row(store: str, r: dict) -> None:
    print(f"{store:<10} {r['workers']:>7} {r['trees']:>6} {r['waves']:>5} {r['busy']:>5.2f} {'-' if r['busy_here'] is None else format(r['busy_here'], '.2f'):>9} "
          f"{r['engine_per_wave']:>13.1f} {r['nodes'] / r['waves']:>10.0f} {r['rollouts'] / r['waves']:>13.0f} "
          f"{r['cpu_per_node_ms']:>11.2f} {r['cpu_per_rollout_us']:>14.1f} "
          f"{r['store_per_wave']:>12.2f} {r['barrier_per_wave']:>14.2f} {r['straggler_per_wave']:>11.2f} "
          f"{r['peak_mib']:>8.0f} {r['rows_per_s']:>8.0f}", flush=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trees", type=int, default=2500, help="active trees (all of the run's trees)")
    ap.add_argument("--k", type=int, default=4, help="children per expansion")
    ap.add_argument("--rollouts", type=int, default=16, help="Monte-Carlo rollouts per new node")
    ap.add_argument("--rollout-max-tokens", type=int, default=256)
    ap.add_argument("--waves", type=int, default=2, help="waves to time (the roots are written before the first)")
    # The scripted gold step repeats across a node's k samples and identical samples merge into one
    # child; at 0.75 the k=4 samples are ~3.3 distinct children, as a sampled model's mostly are.
    ap.add_argument("--error-rate", type=float, default=0.75, help="share of corrupted scripted steps")
    ap.add_argument("--paced", action="store_true",
                    help="wait out the engine's time (default: a virtual clock; a wave of 2,500 trees is minutes of H100)")
    ap.add_argument("--busy-timeout", type=float, default=600.0, help="store.busy_timeout of each worker (seconds)")
    ap.add_argument("--overlap-writes", action=argparse.BooleanOptionalAction, default=ExploreSettings.overlap_writes,
                    help="explore.overlap_writes: write each wave in the background while the next generates "
                         "(default: explore's own, on)")
    ap.add_argument("--stores", default="sqlite,postgres")
    ap.add_argument("--workers", default="1,4")
    ap.add_argument("--postgres", default=os.environ.get("JOURNEYFORGE_TEST_PG",
                                                         "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    args = ap.parse_args(argv)
    sys.path.insert(0, str(BENCH_DIR))
    from store_scale import postgres_scratch

    print(f"{args.trees} trees, k={args.k}, {args.rollouts} rollouts per node, {args.waves} timed waves; "
          f"engine: policy=simulated defaults (search/policies/simulated.py), "
          f"{'paced' if args.paced else 'virtual clock'}", flush=True)
    print(HEADER, flush=True)
    results = []
    for store in args.stores.split(","):
        for workers in (int(w) for w in args.workers.split(",")):
            if store == "sqlite":
                with tempfile.TemporaryDirectory() as tmp:
                    r = run_case(f"sqlite:///{tmp}/scale.db", workers, args)
            else:
                scratch = postgres_scratch(args.postgres)
                if scratch is None:
                    continue
                url, drop = scratch
                try:
                    r = run_case(url, workers, args)
                finally:
                    drop()
            print_row(store, r)
            results.append((store, r))
    if results:
        print(f"busy_share={results[0][1]['busy']:.2f}")


if __name__ == "__main__":
    main()
