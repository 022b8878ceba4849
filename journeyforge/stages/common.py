"""What every stage does first: open the store, find the runs it reads, start its own run.

A failed attempt leaves finished work as it was. Re-running a stage on a run that finished (`done`)
is a new attempt at it, not a restart: the finished run's row (status, config, stats) stays exactly as
it was while the attempt works, and is replaced by the attempt's only when the attempt succeeds
(db/runs.py `start_run` and `finish_run`); files are written into a fresh folder beside their final
place and swapped in after success (`attempt_folder`; export's and view's folders work the same way),
so readers and later stages see the old run or the new one, never a mix, and a failed attempt leaves
the old one usable. An attempt that fails is not recorded on a finished run (the error is printed);
a run that never finished (new, `running` or `failed`) is marked `failed` with the error
(`fail_started_runs`). Reading commands (view, `experiment.report_only`, `db check`, `db current`)
open the store read-only (`open_store_read_only`): they never create a file or change a byte of it.
"""
from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from omegaconf import DictConfig

from db.settings import StoreSettings

from analysis.code_versions import git_sha, versions
from journeyforge.run_config import config_dict


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


def open_store_read_only(opts: StoreSettings):
    """The store of settings `opts`, opened only to read (db/read_only.py): a missing file is an error,
    and neither the file nor a `-wal` beside it is created or changed."""
    from db import TraceStore

    return TraceStore(opts.url, read_only=True, busy_timeout=opts.busy_timeout)


def check_replaceable(out: Path, marker: str, option: str) -> None:
    """StageError unless `out` is absent, an empty folder, or a folder holding `marker` (one an
    earlier run wrote, which a new attempt may replace): a user's folder is never replaced."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / marker).exists())):
        raise StageError(f"{option}={out} exists and is not empty and holds no {marker} (no earlier run wrote it): "
                         f"refusing to replace it; choose another {option} or remove the folder yourself")


@contextmanager
def attempt_folder(out: Path, marker: str, option: str) -> Iterator[Path]:
    """A fresh folder beside `out` for one attempt to write into; when the block ends without an
    error it replaces `out` by renames (so `out` is the old folder or the new one, never half of
    each), and on an error it is removed and `out` is untouched. `out` must be absent, empty, or hold
    `marker` (a folder an earlier attempt wrote): a user's folder is never replaced. `option` names
    the setting in the message."""
    check_replaceable(out, marker, option)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}.attempt-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        if out.exists():
            out.rename(old)
        try:
            staging.rename(out)
        except OSError:
            if old.exists():
                old.rename(out)
            raise
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def fail_started_runs(error: str) -> list[int]:
    """Mark every run this process started and left `running` as `failed` with `error`; returns their
    ids. A finished run that this process attempted again is left as it was (`fail_run` changes only
    `running` rows). Best effort: a store that is locked or corrupt (often the error itself) is left as it is."""
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
