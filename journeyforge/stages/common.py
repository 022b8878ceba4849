"""What every stage does first: open the store, find the runs it reads, start its own run."""
from __future__ import annotations

from omegaconf import DictConfig

from journeyforge.provenance import config_dict, git_sha, versions


class StageError(RuntimeError):
    """A stage cannot start; the message says which input is missing and what to run."""


def start_run(store, cfg: DictConfig, stage: str, name: str | None = None) -> int:
    return store.start_run(name or cfg.name, stage, config_dict(cfg), versions=versions(), git_sha=git_sha())


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
