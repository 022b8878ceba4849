"""Nodes per second through search and store, with no model: the explorer's own overhead.

The scripted policy (task-sampled steps, no model) drives MCTS over a few hundred Countdown
problems into a SQLite store in a temp dir. Whatever time this takes is time a real run spends
outside the model, so it bounds how fast a fast engine can be fed. Prints the time split (policy
stand-in, store writes, the rest = search + task + bookkeeping) and last `nodes_per_s=<x>`.

    .venv/bin/python benchmarks/engine_overhead.py --problems 300
    .venv/bin/python benchmarks/engine_overhead.py --problems 300 --profile   # pyinstrument top entries
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
from search.policies.scripted import ScriptedPolicy  # noqa: E402
from search.tasks import make_task  # noqa: E402
from benchmarks.timed_explore import print_split, timed_run  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    """Set up the run (untimed), explore it (timed, optionally profiled) and print the numbers."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=300)
    ap.add_argument("--k", type=int, default=4, help="samples per expansion")
    ap.add_argument("--expansions", type=int, default=8, help="MCTS expansions per tree")
    ap.add_argument("--max-active-trees", type=int, default=64)
    ap.add_argument("--error-rate", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--profile", action="store_true", help="profile the timed part with pyinstrument")
    args = ap.parse_args(argv)

    # A 4-number Countdown has enough distinct problems for a few hundred trees.
    task = make_task({"name": "countdown", "n_train": args.problems, "n_test": 1, "n_numbers": 4,
                      "max_target": 99, "seed": args.seed})
    problems = [p for p in task.load_problems() if p.split == "train"][: args.problems]
    with tempfile.TemporaryDirectory() as tmp:
        store = TraceStore(f"sqlite:///{tmp}/overhead.db")
        ids = store.add_problems([p.row() for p in problems])
        run_id = store.start_run("overhead", "explore", {})
        store.create_trees(run_id, ids)
        policy = ScriptedPolicy(task, error_rate=args.error_rate, seed=args.seed)
        algo = make_algorithm(SearchSettings(algorithm="mcts", k=args.k, max_expansions=args.expansions,
                                             max_nodes=10_000))
        explorer = Explorer(store, task, policy, algo,
                            ExploreSettings(max_active_trees=args.max_active_trees, progress=False))

        t = timed_run(explorer, run_id, store, args.profile)

    print_split(len(problems), t, "policy stand-in")
    summary, seconds, cpu, profiler = t.summary, t.seconds, t.cpu, t.profiler
    print(f"  without the policy stand-in: {summary.nodes / (seconds - summary.policy_seconds):.0f} nodes/s")
    # On a shared box wall time includes waiting for a core; CPU time is what one free core would take.
    print(f"  per CPU second: {summary.nodes / cpu:.0f} nodes/s")
    if profiler is not None:
        from pyinstrument.renderers import ConsoleRenderer

        print(profiler.output_text(unicode=False, color=False, show_all=False))
        # Self time per function: where the time is spent, not who called it.
        flat = profiler.output(ConsoleRenderer(flat=True, time="percent_of_total"))
        print("\n".join(flat.splitlines()[:30]))
    print(f"nodes_per_s={summary.nodes / seconds:.0f}")


if __name__ == "__main__":
    main()
