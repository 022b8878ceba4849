"""OmegaConf resolvers the configs in conf/ use; registered once on import."""
from __future__ import annotations

from omegaconf import OmegaConf

if not OmegaConf.has_resolver("join"):
    # `${join:${linearize.kinds}}` -> "shortcut-journey": one export directory per set of kinds, so
    # multirun jobs over `linearize=...` do not replace each other's datasets.
    OmegaConf.register_new_resolver("join", lambda items, sep="-": sep.join(str(i) for i in items))
