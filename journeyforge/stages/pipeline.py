"""run: explore -> linearize -> export -> train -> eval, in one process against one store."""
from __future__ import annotations

import time

from omegaconf import DictConfig

from journeyforge.stages import evaluate, explore, export, linearize, train


def run(cfg: DictConfig) -> dict:
    out, times = {}, {}
    for name, stage in (("explore", explore), ("linearize", linearize), ("export", export),
                        ("train", train), ("eval", evaluate)):
        print(f"\n=== {name} ===")
        t0 = time.perf_counter()
        out[name] = stage.run(cfg)
        times[name] = time.perf_counter() - t0
    print("\n=== done === " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()))
    return out
