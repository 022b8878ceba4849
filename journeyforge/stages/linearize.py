"""linearize: every finished tree of the explore run -> trajectories of each configured kind."""
from __future__ import annotations

from collections import Counter

from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from journeyforge.components import build_task, open_store
from journeyforge.report import table
from journeyforge.stages.common import require_run, start_run
from journeyforge.tokens import token_counter
from traces.linearize import linearize_tree


def run(cfg: DictConfig) -> dict:
    store = open_store(cfg)
    task = build_task(cfg)
    explore = require_run(store, cfg.name, "explore", f"run `journeyforge explore name={cfg.name}` first")
    run_id = start_run(store, cfg, "linearize")
    kinds = list(cfg.linearize.kinds)
    count = token_counter(cfg)
    trees = store.trees(explore["id"], status="done")
    made: Counter = Counter()
    skipped: dict[str, Counter] = {k: Counter() for k in kinds}
    backtracks: Counter = Counter()
    for info in tqdm(trees, desc="linearize", unit="tree", dynamic_ncols=True):
        graph = store.tree(info["id"])
        for kind in kinds:
            knobs = cfg.linearize.get(kind)
            knobs = OmegaConf.to_container(knobs, resolve=True) if knobs is not None else None
            rows, reason = linearize_tree(graph, task, kind, knobs, tokenizer=count)
            for r in rows:
                r["n_tokens"] = count(r["text"])
                r.pop("lines", None)  # derivable from `text`; not a column
            # Replacing per (run, tree, kind) makes a re-run give the same rows, not twice as many.
            store.replace_trajectories(run_id, info["id"], kind, rows)
            made[kind] += len(rows)
            backtracks[kind] += sum(r["n_backtracks"] for r in rows)
            if reason:
                skipped[kind][reason] += 1
    stats = {"trees": len(trees), "trajectories": dict(made), "backtracks": dict(backtracks),
             "skipped": {k: dict(v) for k, v in skipped.items()}}
    store.finish_run(run_id, "done", stats)
    print(table(["kind", "trajectories", "backtracks", "trees skipped", "why"],
                [[k, made[k], backtracks[k], sum(skipped[k].values()),
                  "; ".join(f"{r} ({n})" for r, n in skipped[k].items()) or "-"] for k in kinds],
                title=f"[linearize] {len(trees)} finished trees of explore run {cfg.name!r}"))
    return {"run_id": run_id, **stats}
