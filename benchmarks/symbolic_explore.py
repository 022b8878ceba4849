"""Nodes per second of symbolic search trees (no model) through the explorer into SQLite.

The `symbolic` policy answers every expansion with the task's legal steps, so this is the whole
cost of growing Stream of Search style training trees: the policy's enumeration and heuristic,
the task's labelling of every step, the algorithm, and the store's writes. Three-number Countdown
problems, DFS / BFS best-first by the `sum` heuristic (or a per-tree mix), a SQLite store in a temp
dir. Prints the time split and last `nodes_per_s=<x>` (per CPU second, which is what one free core
would take on a shared machine).

    .venv/bin/python benchmarks/symbolic_explore.py --problems 2000
    .venv/bin/python benchmarks/symbolic_explore.py --problems 2000 --algorithm mixed --profile
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from db import TraceStore  # noqa: E402
from search.algorithms import SearchSettings, make_algorithm  # noqa: E402
from search.explorer import Explorer, ExploreSettings  # noqa: E402
from search.policies import make_policy  # noqa: E402
from search.tasks import make_task  # noqa: E402
from benchmarks.timed_explore import print_split, timed_run  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    """Set up the run (untimed), explore it (timed, optionally profiled) and print the numbers."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=2000)
    ap.add_argument("--numbers", type=int, default=3, help="numbers per Countdown problem")
    ap.add_argument("--algorithm", default="dfs", choices=("dfs", "bfs", "mixed"))
    ap.add_argument("--heuristic", default="sum", help="sum | mult | mixed | none")
    ap.add_argument("--max-nodes", type=int, default=200, help="node budget per tree")
    ap.add_argument("--max-active-trees", type=int, default=512)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--profile", action="store_true", help="profile the timed part with pyinstrument")
    args = ap.parse_args(argv)

    task = make_task({"name": "countdown", "n_train": args.problems, "n_test": 1, "n_numbers": args.numbers,
                      "max_number": 30, "max_target": 99, "seed": args.seed,
                      "prompt_format": "question"})   # as experiment=cpu_lab: the policy reads states, not prompts
    problems = [p for p in task.load_problems() if p.split == "train"][: args.problems]
    with tempfile.TemporaryDirectory() as tmp:
        store = TraceStore(f"sqlite:///{tmp}/symbolic.db")
        ids = store.add_problems([p.row() for p in problems])
        run_id = store.start_run("symbolic", "explore", {})
        store.create_trees(run_id, ids)
        heuristic = None if args.heuristic == "none" else args.heuristic
        policy = make_policy({"backend": "symbolic", "heuristic": heuristic, "seed": args.seed}, task=task)
        algo = make_algorithm(SearchSettings(algorithm=args.algorithm, best_first=heuristic is not None,
                                             expand_dead_ends=True, stop_on_solution=True, expansions_per_wave=1,
                                             beam_width=3, mix=["bfs:1", "bfs:3", "dfs"], max_depth=args.numbers,
                                             max_expansions=10_000, max_nodes=args.max_nodes))
        explorer = Explorer(store, task, policy, algo,
                            ExploreSettings(max_active_trees=args.max_active_trees, progress=False))

        t = timed_run(explorer, run_id, store, args.profile)

    print_split(len(problems), t, "symbolic policy")
    summary, seconds, cpu, profiler = t.summary, t.seconds, t.cpu, t.profiler
    print(f"  per wall second: {summary.nodes / seconds:.0f} nodes/s")
    if profiler is not None:
        from pyinstrument.renderers import ConsoleRenderer

        print(ConsoleRenderer(show_all=False, short_mode=True).render(profiler.last_session)[:6000])
    # On a shared box wall time includes waiting for a core; CPU time is what one free core would take.
    print(f"nodes_per_s={summary.nodes / cpu:.0f}")


if __name__ == "__main__":
    main()
