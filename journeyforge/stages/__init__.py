"""One module per stage; each exposes `run(cfg) -> dict` that tests call without the CLI."""
from __future__ import annotations

from journeyforge.stages import evaluate, evolve, experiment, explore, export, linearize, pipeline, prm, rl, train, view

STAGES = {
    "explore": explore.run,
    "linearize": linearize.run,
    "export": export.run,
    "train": train.run,
    "eval": evaluate.run,
    "run": pipeline.run,
    "experiment": experiment.run,
    "rl": rl.run,
    "prm": prm.run,
    "evolve": evolve.run,
    "view": view.run,
}
