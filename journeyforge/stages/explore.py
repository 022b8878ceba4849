"""explore: load problems, grow one tree per training problem, store every node."""
from __future__ import annotations

from omegaconf import DictConfig

from analysis.tables import table
from db.engine import mask_url
from journeyforge.components import build_task, load_problems, policy_of, store_of
from journeyforge.fingerprint import FingerprintMismatch, check_resume, explore_fingerprint
from journeyforge.run_config import config_dict
from journeyforge.stages.common import StageError, start_run
from journeyforge.stages.run_parts import RunParts
from search.algorithms import make_algorithm
from search.explore_cost import explore_cost
from search.explorer import Explorer


class ResumeRefused(StageError):
    """The run exists with other settings that shape its trees (journeyforge/fingerprint.py)."""


def run(cfg: DictConfig, reuse_finished: bool = False, train_keys: set[str] | None = None) -> dict:
    """Grow (or resume) the explore run `cfg.name`, every setting checked first (`run_with`)."""
    return run_with(RunParts.of(cfg), reuse_finished, train_keys)


def run_with(parts: RunParts, reuse_finished: bool = False, train_keys: set[str] | None = None) -> dict:
    """Grow (or resume) the explore run `parts.name`. With `reuse_finished` (the `run` and `experiment`
    commands, which go on to read the trees), a finished run that holds every problem of this config
    is used as it is even when its trees were grown with other settings: nothing would grow, and
    nothing is written (the run keeps its own config). `train_keys` (evolve's problem selection)
    grows trees for only those training problems; every problem is still stored."""
    cfg = parts.cfg
    task = build_task(cfg)
    problems = load_problems(task)  # a bad problem file or generator range, too
    rows = [p.row() for p in problems]
    fingerprint = explore_fingerprint(config_dict(cfg), rows)
    store = store_of(parts.store, create=True)
    # A name means one run: resume it only with the settings that grew its trees (before any write).
    stored = store.get_run(cfg.name, "explore")
    try:
        note = check_resume(cfg.name, stored["config"], fingerprint) if stored else None
    except FingerprintMismatch as err:
        if not (reuse_finished and _finished_with(store, stored, rows)):
            raise ResumeRefused(str(err)) from None
        print(f"[explore] run {cfg.name!r} is finished and holds every problem of this config; it was grown "
              f"with other settings ({'; '.join(err.differences[:4])}), which grow nothing here: its stored "
              "trees are read as they are")
        return {"run_id": stored["id"], **run_stats(store, stored["id"]), "reused": True}
    if note:
        print(f"[explore] {note}")
    ids = store.add_problems(rows)
    run_id = start_run(store, cfg, "explore", extra={"fingerprint": fingerprint})
    train_ids = [i for p, i in zip(problems, ids)
                 if p.split == "train" and (train_keys is None or p.key in train_keys)]
    store.create_trees(run_id, train_ids)
    n_test = sum(p.split == "test" for p in problems)
    print(f"[explore] run {cfg.name!r}: {len(train_ids)} training problems (+{n_test} held out), "
          f"store {mask_url(cfg.store.url)}")

    pending = [t for t in store.trees(run_id) if t["status"] not in ("done", "failed")]
    summary = None
    if pending:  # a finished run is not reloaded: multirun jobs share it without a model load
        policy = policy_of(parts.policy, task)
        try:
            explorer = Explorer(store, task, policy, make_algorithm(parts.search), parts.explore)
            if explorer.s.worker_index is not None:  # one job of a sweep of workers (README, "Many workers")
                print(f"[explore] worker {explorer.s.worker_index} ({explorer.worker}) shares run {cfg.name!r} "
                      f"with the other workers of the sweep")
            summary = explorer.run(run_id)
            cost = explore_cost(policy, summary)   # before close: an engine's counters go with it
        finally:
            policy.close()
    stats = run_stats(store, run_id)
    if summary is not None:
        stats.update(waves=summary.waves, generated_tokens=summary.generated_tokens,
                     seconds=round(summary.seconds, 1), policy_seconds=round(summary.policy_seconds, 1),
                     store_seconds=round(summary.store_seconds, 2),
                     tokens_per_s=round(summary.generated_tokens / max(summary.policy_seconds, 1e-9), 1),
                     rollouts=summary.rollouts, rollout_tokens=summary.rollout_tokens)
    stats.update(_publishing_stats(store, run_id, task, cost if summary is not None else None))
    skipped = getattr(task, "last_skipped", None) or []   # bad file rows, with task.skip_bad_rows
    if skipped:
        stats["rows_skipped"] = len(skipped)
    # A failed tree is final too (its prompt does not fit the policy's context): re-running cannot grow it.
    complete = stats["trees_done"] + stats["trees_failed"] == stats["trees"]
    store.finish_run(run_id, "done" if complete else "running", stats)
    print(table(["problems", "trees", "done", "solved", "nodes", *sorted(stats["labels"])],
                [[len(problems), stats["trees"], stats["trees_done"], stats["solved"], stats["nodes"],
                  *[stats["labels"][k] for k in sorted(stats["labels"])]]],
                title="[explore] summary (node labels on the right)"))
    if summary is not None:
        print(f"[explore] {summary.waves} waves, {summary.generated_tokens} tokens generated in "
              f"{summary.seconds:.0f} s (policy {summary.policy_seconds:.0f} s, store "
              f"{summary.store_seconds:.1f} s)")
        if summary.rollouts:
            print(f"[explore] values by Monte-Carlo rollouts: {summary.rollouts} completions, "
                  f"{summary.rollout_tokens} of those tokens")
    _print_publishing(stats)
    if skipped:
        print(f"[explore] {len(skipped)} bad problem-file rows skipped (task.skip_bad_rows); the first: {skipped[0]}")
    failed = [t for t in store.trees(run_id) if t["status"] == "failed"]
    if failed:
        print(f"[explore] {len(failed)} trees failed, not grown (trees.stats.error says why); the first, problem "
              f"{failed[0]['problem']['key']}: {(failed[0].get('stats') or {}).get('error')}")
    return {"run_id": run_id, **stats}


def _finished_with(store, run: dict, rows: list[dict]) -> bool:
    """Whether explore run `run` is finished and re-running it with problem `rows` would write nothing:
    every tree done (or failed), every training problem a tree of it, every problem already stored."""
    trees = store.trees(run["id"])
    if not trees or any(t["status"] not in ("done", "failed") for t in trees):
        return False
    grown = {(t["problem"]["dataset"], t["problem"]["key"]) for t in trees}
    if any((r["dataset"], r["key"]) not in grown for r in rows if r["split"] == "train"):
        return False
    stored = {(p["dataset"], p["key"]) for dataset in {r["dataset"] for r in rows}
              for p in store.problems(dataset=dataset)}
    return all((r["dataset"], r["key"]) in stored for r in rows)


def run_stats(store, run_id: int) -> dict:
    """Counts of a run straight from the store (so a resumed run reports the whole run)."""
    trees = store.trees(run_id)
    labels: dict[str, int] = {}
    nodes = 0
    for t in trees:
        for label, n in ((t.get("stats") or {}).get("labels") or {}).items():
            labels[label] = labels.get(label, 0) + n
            nodes += n
    return {"trees": len(trees), "trees_done": sum(t["status"] == "done" for t in trees),
            "trees_failed": sum(t["status"] == "failed" for t in trees),
            "solved": len(store.solved(run_id)), "nodes": nodes, "labels": labels}


def _publishing_stats(store, run_id: int, task, cost: dict | None) -> dict:
    """The run's `cost` (this invocation's added to its `run_costs` row, so a resumed run counts all it
    spent) and the problem file's `duplicates` (rows merged into an earlier one, at most 1,000 listed)."""
    out: dict = {}
    if cost is not None:
        out["cost"] = {k: v for k, v in store.add_run_cost(run_id, cost).items() if k != "run_id"}
    duplicates = getattr(task, "last_duplicates", None)
    if duplicates is not None and duplicates.groups:
        out["duplicates"] = {"rows_merged": duplicates.rows_merged, "problems": len(duplicates.groups),
                             "held_out_copies": duplicates.held_out_copies, "rows": duplicates.report()[:1000]}
    return out


def _print_publishing(stats: dict) -> None:
    """The run's cost and the problem file's duplicates, one line each."""
    if "cost" in stats:
        print(f"[explore] cost: {_cost_line(stats['cost'])}")
    if "duplicates" in stats:
        d = stats["duplicates"]
        first = d["rows"][0]
        print(f"[explore] {d['rows_merged']} duplicate problem rows merged into {d['problems']} problems "
              f"({d['held_out_copies']} held-out problems also given as training rows, kept held out); the first: "
              f"{first['merged'][0]} repeats {first['kept']}")


def _cost_line(cost: dict) -> str:
    """The run's policy cost in one line (summed over its invocations)."""
    cached = f" ({cost['cached_prompt_tokens']:,} from the prefix cache)" if cost.get("cached_prompt_tokens") else ""
    gpu = f", {cost['gpu_seconds']:.1f} GPU-seconds of the modelled engine" if cost.get("gpu_seconds") is not None else ""
    return (f"{cost['prompt_tokens']:,} prompt tokens{cached}, {cost['generated_tokens']:,} generated "
            f"({cost['rollout_tokens']:,} in rollouts), {cost['policy_seconds']:.1f} policy seconds{gpu}")
