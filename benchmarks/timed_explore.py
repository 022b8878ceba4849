"""The timed part of the no-model explorer benchmarks (engine_overhead.py, symbolic_explore.py): one
`Explorer.run`, optionally under pyinstrument, and the time split it prints."""
from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class Timed:
    summary: object     # the explorer's RunSummary
    seconds: float      # wall
    cpu: float          # this process's CPU: what one free core would take on a shared box
    stored: int         # `nodes` rows afterwards, roots included
    profiler: object | None


def timed_run(explorer, run_id: int, store, profile: bool = False) -> Timed:
    """Run the explorer on `run_id` (profiled with `profile`), count the stored nodes, close the store."""
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        profiler.start()
    start, cpu_start = time.perf_counter(), time.process_time()
    summary = explorer.run(run_id)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    if profiler is not None:
        profiler.stop()
    stored = store.count("nodes")
    store.close()
    return Timed(summary, seconds, cpu, stored, profiler)


def print_split(trees: int, t: Timed, policy_label: str) -> None:
    """Trees, nodes, waves, then the policy / store / rest split of the wall time."""
    s = t.summary
    other = t.seconds - s.policy_seconds - s.store_seconds
    print(f"{trees} trees ({s.trees_done} done, {s.solved} solved), {s.nodes} nodes "
          f"({t.stored} rows with roots), {s.waves} waves in {t.seconds:.2f}s wall, {t.cpu:.2f}s CPU")
    print(f"  {policy_label:<15} {s.policy_seconds:6.2f}s  ({s.policy_seconds / t.seconds:4.0%})")
    print(f"  store writes    {s.store_seconds:6.2f}s  ({s.store_seconds / t.seconds:4.0%})")
    print(f"  search + rest   {other:6.2f}s  ({other / t.seconds:4.0%})")
