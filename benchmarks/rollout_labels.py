"""How well do Monte-Carlo rollout labels agree with an exact oracle? (Countdown, the bundled model)

Math has no oracle, so Math-Shepherd / OmegaPRM-style labels ("a step is a mistake when none of M
completions from it reaches the answer") cannot be checked there; studies such as Qwen's PRM
lessons could only estimate their noise. Countdown has an exact solver, so here the same estimator
can be scored: grow trees with `search.value=rollout` and M_max rollouts per node, then, for
M in (4, 8, 16), take each node's first M stored rollouts and compare "no rollout succeeded" with
the oracle's "the target is unreachable" (`Task.is_solvable`). Rollouts are i.i.d. samples, so the
first M of 16 are a sample of M.

    .venv/bin/python benchmarks/rollout_labels.py                 # 24 trees, M up to 16
    .venv/bin/python benchmarks/rollout_labels.py --trees 8 --ms 2,4

Prints precision and recall of "mistake", agreement, and rollout tokens spent per labelled node.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hydra import compose, initialize_config_dir  # noqa: E402

from db import TraceStore  # noqa: E402
from journeyforge.cli import CONF_DIR  # noqa: E402
from journeyforge.stages import explore  # noqa: E402
from search.tasks import make_task  # noqa: E402


def agreement(nodes: list[dict], rollouts: dict[int, list[dict]], task, m: int) -> dict:
    """Confusion counts of rollout mistakes (none of the first m correct) against oracle dead ends."""
    tp = fp = fn = tn = tokens = 0
    for node in nodes:
        rolls = sorted(rollouts[node["id"]], key=lambda r: r["idx"])[:m]
        predicted = not any(r["is_correct"] for r in rolls)
        actual = not task.is_solvable(node["state"])
        tokens += sum(r["n_tokens"] for r in rolls)
        tp += predicted and actual
        fp += predicted and not actual
        fn += actual and not predicted
        tn += not predicted and not actual
    n = len(nodes)
    return {"M": m, "nodes": n, "oracle_mistakes": tp + fn, "rollout_mistakes": tp + fp,
            "precision": tp / max(tp + fp, 1), "recall": tp / max(tp + fn, 1), "agreement": (tp + tn) / max(n, 1),
            "tokens_per_node": tokens / max(n, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trees", type=int, default=24)
    parser.add_argument("--ms", default="4,8,16", help="rollout counts to score (the largest is drawn)")
    parser.add_argument("--expansions", type=int, default=4)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--store", default=None, help="SQLite file to keep (default: a temporary one)")
    args = parser.parse_args()
    ms = sorted(int(m) for m in args.ms.split(","))
    store_path = args.store or str(Path(tempfile.mkdtemp()) / "rollouts.db")
    overrides = [
        "name=rollout_labels", f"store.url=sqlite:///{store_path}", f"workdir={Path(store_path).parent}",
        f"policy.model={args.model}", f"task.n_train={args.trees}", "task.n_test=0", "explore.progress=false",
        "search=mcts", "search.k=4", f"search.max_expansions={args.expansions}", "search.value=rollout",
        f"search.rollouts={ms[-1]}", "search.rollout_max_tokens=48",
    ]
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        cfg = compose(config_name="config", overrides=overrides)
    start = time.perf_counter()
    out = explore.run(cfg)
    seconds = time.perf_counter() - start
    task = make_task(cfg.task)
    store = TraceStore(cfg.store.url)
    nodes, rollouts = [], {}
    for tree in store.trees(out["run_id"]):
        for r in store.rollouts(tree_id=tree["id"]):
            rollouts.setdefault(r["node_id"], []).append(r)
        nodes += [n for n in store.nodes(tree["id"]) if n["id"] in rollouts]
    print(f"\n{len(nodes)} nodes labelled by rollouts in {args.trees} trees ({seconds:.0f} s, model {args.model})")
    print("   M  nodes  oracle_mistakes  rollout_mistakes  precision  recall  agreement  tokens/node")
    for m in ms:
        a = agreement(nodes, rollouts, task, m)
        print(f"{a['M']:>4}  {a['nodes']:>5}  {a['oracle_mistakes']:>15}  {a['rollout_mistakes']:>16}  "
              f"{a['precision']:>9.2f}  {a['recall']:>6.2f}  {a['agreement']:>9.2f}  {a['tokens_per_node']:>11.1f}")


if __name__ == "__main__":
    main()
