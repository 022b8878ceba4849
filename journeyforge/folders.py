"""Folders a stage writes (workdir, export.dir, view.dir, train.dir, prm.dir, experiment.dir, ...),
checked before anything is written: they can be made and written, and there is room in them."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

# The least free space a stage starts writing with. The smallest outputs (a run's Hydra logs, a report,
# a from-scratch student of ~1M parameters) are a few MiB; a full disk found after minutes of work
# loses those minutes, and SQLite and the dataset writers fail in ways that are hard to read.
MIN_FREE_BYTES = 64 * 2**20


def folder_problem(path: str, option: str, min_free: int = MIN_FREE_BYTES) -> str | None:
    """Why folder `path` (option `option`) cannot be created or written, or has less than `min_free`
    bytes free, as one line naming both; None when it can be written. The nearest existing folder on
    the way is the one checked (Hydra makes its run folder under `workdir` before any stage runs, so a
    read-only one must be caught here first)."""
    here = Path(path).absolute()
    for folder in (here, *here.parents):
        if not folder.exists():
            continue
        if not folder.is_dir():
            where = "" if folder == here else f": {folder}"
            return f"{option}={path}{where} is a file, not a folder; choose another {option}"
        if not os.access(folder, os.W_OK | os.X_OK):
            return f"{option}={path}: {folder} is not writable (read-only or not yours); choose another {option}"
        try:
            free = shutil.disk_usage(folder).free
        except OSError:  # pragma: no cover - a folder that exists but cannot be measured: leave it to the writer
            return None
        if free < min_free:
            return (f"{option}={path}: only {free / 2**20:.1f} MiB free on the disk of {folder} (a stage starts "
                    f"with at least {min_free / 2**20:.0f} MiB); free some space or choose another {option}")
        return None
    return None


def folders_problem(folders: list[tuple[str, str]]) -> str | None:
    """The first problem of several `(option, path)` output folders, or None (each path once)."""
    seen = set()
    for option, path in folders:
        if path is None or str(path) in seen:
            continue
        seen.add(str(path))
        problem = folder_problem(str(path), option)
        if problem:
            return problem
    return None
