"""OmegaConf resolvers the configs in conf/ use; registered once on import."""
from __future__ import annotations

from omegaconf import OmegaConf

if not OmegaConf.has_resolver("join"):
    # `${join:${linearize.kinds}}` -> "shortcut-journey": one export directory per set of kinds, so
    # multirun jobs over `linearize=...` do not replace each other's datasets.
    OmegaConf.register_new_resolver("join", lambda items, sep="-": sep.join(str(i) for i in items))


def _stages_help() -> str:
    # The config's help header lists the stages from their registry (journeyforge/stages/__init__.py),
    # as the CLI's usage does.
    from journeyforge.stages import stage_lines
    from traces.linearize import kind_names

    return stage_lines(kind_names())


if not OmegaConf.has_resolver("stages_help"):
    OmegaConf.register_new_resolver("stages_help", _stages_help)
