"""What every stage does first: open the store, find the runs it reads, start its own run."""
from __future__ import annotations

from omegaconf import DictConfig

from analysis.provenance import git_sha, versions
from journeyforge.provenance import config_dict


class StageError(RuntimeError):
    """A stage cannot start; the message says which input is missing and what to run."""


# (store URL, lock wait, run id) of every run this process started: a stage that stops on an error
# marks the ones it left `running` as `failed` (`fail_started_runs`), so `runs` never shows a dead
# stage as still going.
_STARTED: list[tuple[str, float, int]] = []


def start_run(store, cfg: DictConfig, stage: str, name: str | None = None, extra: dict | None = None) -> int:
    """Get or create the run (`name` or cfg.name, stage), storing the resolved config plus `extra`
    (e.g. explore's fingerprint) in `runs.config`; returns its id."""
    config = {**config_dict(cfg), **(extra or {})}
    run_id = store.start_run(name or cfg.name, stage, config, versions=versions(), git_sha=git_sha())
    _STARTED.append((store.url, store.busy_timeout, run_id))
    return run_id


def fail_started_runs(error: str) -> list[int]:
    """Mark every run this process started and left `running` as `failed` with `error`; returns their
    ids. Best effort: a store that is locked or corrupt (often the error itself) is left as it is."""
    from db import TraceStore

    failed = []
    for url, busy_timeout, run_id in reversed(_STARTED):
        try:
            with TraceStore(url, create=False, busy_timeout=min(busy_timeout, 2.0)) as store:
                if store.fail_run(run_id, error):
                    failed.append(run_id)
        except Exception:  # noqa: BLE001 - the original error is what the user must see
            continue
    _STARTED.clear()
    return failed


def require_run(store, name: str, stage: str, hint: str) -> dict:
    run = store.get_run(name, stage)
    if run is None:
        known = sorted({r["name"] for r in store.runs() if r["stage"] == stage})
        raise StageError(
            f"no {stage} run named {name!r} in this store"
            + (f" (it has: {', '.join(known)})" if known else " (it has none)")
            + f"; {hint}"
        )
    return run


def check_task(run: dict, cfg: DictConfig) -> None:
    """Stop when explore run `run` was grown on another task (or dataset) than `cfg.task`: its trees
    would be read with the wrong task's rules. Runs stored without a config are not checked."""
    stored = (run.get("config") or {}).get("task")
    if not isinstance(stored, dict):
        return
    mine = {"name": cfg.task.get("name"), "dataset": cfg.task.get("dataset")}
    if not any(stored.get(k) is not None and mine[k] is not None and stored.get(k) != mine[k] for k in mine):
        return
    raise StageError(
        f"explore run {run['name']!r} was grown on task {stored.get('name')} (dataset {stored.get('dataset')}), "
        f"not on this command's task {mine['name']} (dataset {mine['dataset']}): add task={stored.get('name')} "
        f"to read it, or name=<a {mine['name']} run>"
    )


def check_trees_task(run: dict, trees: list[dict], dataset: str) -> None:
    """Stop when the trees of explore run `run` hold problems of datasets other than `dataset` (a run
    mixed before runs kept a fingerprint); `journeyforge db check` says how to split or drop it."""
    counts: dict[str, int] = {}
    for tree in trees:
        key = tree["problem"]["dataset"]
        counts[key] = counts.get(key, 0) + 1
    if set(counts) - {dataset}:
        raise StageError(
            f"explore run {run['name']!r} mixes datasets ({', '.join(f'{d} {n} trees' for d, n in sorted(counts.items()))}): "
            f"it was grown under one name with several tasks before runs kept a fingerprint; "
            f"`journeyforge db check` says how to split or drop it"
        )


def check_explore_task(store, cfg: DictConfig) -> None:
    """`check_task` on the explore run named cfg.name, when the store has one (the stages after
    linearize read what was made from it: datasets, adapters, held-out problems)."""
    run = store.get_run(cfg.name, "explore")
    if run is not None:
        check_task(run, cfg)
