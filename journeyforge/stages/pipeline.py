"""run: explore -> linearize -> export -> train (-> rl with rl.in_run=true) -> eval, in one process against one store."""
from __future__ import annotations

import time

from omegaconf import DictConfig

from journeyforge.stages import evaluate, explore, export, linearize, rl, train
from journeyforge.stages.run_parts import RunParts


def run(cfg: DictConfig) -> dict:
    """Every stage of one experiment in order (explore, linearize, export, train, rl with `rl.in_run`,
    eval); returns each stage's result by name."""
    parts = RunParts.of(cfg)  # every setting checked and built once, before the first stage writes
    out, times = {}, {}
    stages = [("explore", explore), ("linearize", linearize), ("export", export), ("train", train), ("eval", evaluate)]
    if parts.rl is not None and parts.rl.in_run:  # off by default: the demo stays short
        stages.insert(4, ("rl", rl))
    for name, stage in stages:
        print(f"\n=== {name} ===")
        t0 = time.perf_counter()
        # A finished explore run is read as it is, whatever policy grew it (e.g. on another machine).
        out[name] = stage.run_with(parts, reuse_finished=True) if stage is explore else stage.run_with(parts)
        times[name] = time.perf_counter() - t0
    print("\n=== done === " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()))
    return out
