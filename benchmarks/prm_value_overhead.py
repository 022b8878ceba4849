"""What `search.value=prm` adds to a wave: the same explore run with the task's labels as values and
with a trained step scorer scoring every new node (one batched forward pass per wave).

The CPU demo settings (Countdown, the bundled SmolLM2-135M, MCTS with 4 samples per expansion) on a
few problems; the scorer is any directory `journeyforge prm` wrote (e.g. the study in
docs/results/prm-cpu/). Prints seconds per wave of both runs and their ratio (the issue's bound: the
scorer adds at most 25%).

    .venv/bin/python benchmarks/prm_value_overhead.py --prm outputs/experiment-cpu/prm --problems 8
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hydra import compose, initialize_config_dir  # noqa: E402

from journeyforge.cli import CONF_DIR  # noqa: E402
from journeyforge.stages import explore  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prm", required=True, help="scorer directory (journeyforge prm's <workdir>/prm)")
    parser.add_argument("--problems", type=int, default=8)
    parser.add_argument("--expansions", type=int, default=4)
    parser.add_argument("--model", default="smollm2-135m")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        common = [f"store.url=sqlite:///{tmp}/traces.db", f"workdir={tmp}/w", f"policy.model={args.model}",
                  f"task.n_train={args.problems}", "task.n_test=1", f"search.max_expansions={args.expansions}",
                  "explore.progress=false"]
        results = {}
        for value in ("label", "prm"):
            extra = [f"search.prm={args.prm}"] if value == "prm" else []
            with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
                cfg = compose(config_name="config", overrides=[*common, f"name=bench-{value}",
                                                                f"search.value={value}", *extra])
            out = explore.run(cfg)
            results[value] = out["seconds"] / max(out["waves"], 1)
            print(f"value={value}: {out['waves']} waves, {out['nodes']} nodes, {out['seconds']} s "
                  f"({results[value]:.2f} s per wave)")
    print(f"prm_wave_ratio={results['prm'] / results['label']:.3f}  (seconds per wave, value=prm / value=label)")


if __name__ == "__main__":
    main()
