"""Folders a stage writes (workdir, export.dir, view.dir), checked before anything is written."""
from __future__ import annotations

import os
from pathlib import Path


def folder_problem(path: str, option: str) -> str | None:
    """Why folder `path` (option `option`) cannot be created or written, or None. Hydra makes its run
    folder under `workdir` before any stage runs, so a read-only one must be caught here first."""
    here = Path(path).absolute()
    for folder in (here, *here.parents):
        if not folder.exists():
            continue
        if not folder.is_dir():
            return f"{option}={path}: {folder} is a file, not a folder; choose another {option}"
        if not os.access(folder, os.W_OK | os.X_OK):
            return f"{option}={path}: {folder} is not writable (read-only or not yours); choose another {option}"
        return None
    return None
