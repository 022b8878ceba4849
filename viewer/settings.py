"""Settings of the `view` stage (Hydra node `view`), registered as `schema/view`."""
from __future__ import annotations

from dataclasses import dataclass

# Bare keys `journeyforge view` also accepts (`serve=true` for `view.serve=true`).
SHORTHANDS = ("serve", "port", "dir", "trees", "solved", "limit")


@dataclass
class ViewSettings:
    """What `journeyforge view` writes and serves: one page per tree of the explore run `name`."""

    dir: str | None = None
    """Folder of the site (index.html, trees/, data/, assets/); null: `<workdir>/view`."""
    trees: list[int] | None = None
    """Tree ids to show; null: every tree of the run."""
    solved: bool | None = None
    """true: only solved trees, false: only unsolved ones, null: both."""
    limit: int | None = None
    """Show at most this many trees (the first by id, after the filters above); null: all."""
    serve: bool = False
    """After writing the site, serve it on http://127.0.0.1:<port>/ until Ctrl-C."""
    port: int = 8000
    """Port of `serve` on 127.0.0.1; 0 picks a free one (printed)."""

    def __post_init__(self) -> None:
        if self.dir is not None and not str(self.dir).strip():
            raise ValueError("view.dir must be a folder, got an empty string (null: <workdir>/view)")
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ValueError(f"view.port must be an integer in 0..65535, got {self.port!r}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"view.limit must be >= 1 or null, got {self.limit!r}")


def expand_shorthands(overrides: list[str]) -> list[str]:
    """`serve=true` -> `view.serve=true` (and the other SHORTHANDS); everything else unchanged."""
    out = []
    for text in overrides:
        key = text.split("=", 1)[0]
        out.append(f"view.{text}" if "=" in text and key in SHORTHANDS else text)
    return out
