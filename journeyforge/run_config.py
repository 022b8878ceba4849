"""The resolved config a run row records, secrets masked (its versions and git sha: analysis/code_versions.py)."""
from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from journeyforge.credentials import mask_config


def config_dict(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config as stored in `runs.config` and the dataset card: secrets masked (a store
    URL's password, API keys), since a shared store and a published card are read by others."""
    return mask_config(OmegaConf.to_container(cfg, resolve=True))  # type: ignore[return-value]
