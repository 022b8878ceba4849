"""Secrets kept inside the process: a store URL's password, credential-looking URL query parameters
and API keys are masked in every stored config, printed line and written file.

A shared store or a published dataset card is read by people who must not learn how to log in to
the store, so masking happens where text leaves the process (`run_config.config_dict`, the CLI's
error line, Hydra's saved config), not at each print.
"""
from __future__ import annotations

from pathlib import Path

from db.masking import MASK, mask_config, mask_text, masked_yaml, scrub_text, secrets_in

__all__ = ["MASK", "mask_config", "mask_text", "masked_yaml", "scrub_files", "scrub_text", "secrets_in"]


def scrub_files(paths: list[Path], secrets: set[str]) -> None:
    """Rewrite each existing file with its secrets masked (Hydra's `.hydra/*.yaml`, `multirun.yaml`):
    Hydra saves the command line's overrides verbatim, a password included."""
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        clean = scrub_text(text, secrets)
        if clean != text:
            path.write_text(clean, encoding="utf-8")
