"""What `journeyforge evolve` checks before round 0 runs (issue 38: composite stages check every
round's settings first): settings of evolve that cannot work with the other groups' and `evolve.dir`
(every round's config, `evolve.policy` included, is checked by evolve.py's `check_round_settings`, which
builds them); and, before round k >= 1 writes anything, the model round k-1 left for it."""
from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from journeyforge.evolve_settings import EvolveSettings
from journeyforge.folders import folder_problem
from journeyforge.settings import ConfigError
from journeyforge.stages.common import StageError
from journeyforge.stages.run_parts import RunParts


def check_evolve_settings(parts: RunParts, ev: EvolveSettings) -> None:
    """ConfigError for evolve settings (expert iteration, the scorer's start) that cannot work with the other
    groups' (`parts`)."""
    train = parts.train
    if ev.init == "continue" and train.lora and not train.scratch:
        raise ConfigError("evolve.init=continue trains round k-1's whole model further, and train.lora=true "
                          "would leave only an adapter: set train.lora=false, or evolve.init=base")
    if ev.prm_base == "round" and train.lora and not train.scratch:
        raise ConfigError("evolve.prm_base=round starts each round's step scorer from the round's whole model, and "
                          "train.lora=true leaves only an adapter: set train.lora=false (or train=scratch), or "
                          "evolve.prm_base=configured")
    if ev.learn_from != "trees" and ev.samples > 1 and parts.eval.temperature == 0:
        raise ConfigError(f"evolve.samples={ev.samples} with eval.temperature=0 samples the same greedy answer "
                          f"{ev.samples} times: set eval.temperature > 0 (the rounds sample as eval samples), "
                          "or evolve.samples=1")


def check_evolve_dir(ev: EvolveSettings) -> None:
    """ConfigError when `evolve.dir` (every round's datasets and models, the report) cannot be written."""
    problem = folder_problem(ev.dir, "evolve.dir")
    if problem:
        raise ConfigError(problem)


def check_round_model(cfg: DictConfig, k: int, model: Path) -> None:
    """StageError unless round k-1's `model` (the directory that grows or is sampled in round k) is
    there and loads: its config, weights' headers and tokenizer read (search/model_dirs.py)."""
    from search.model_dirs import model_dir_problem

    if not model.is_dir() or not any(model.glob("*.json")):
        raise StageError(f"round {k} of evolve run {cfg.name!r} is grown by round {k - 1}'s model {model}, "
                         f"which is missing; nothing was written. Restore it, or start over under another name=")
    problem = model_dir_problem(str(model), "policy.model")
    if problem:
        raise StageError(f"round {k} of evolve run {cfg.name!r} is grown by round {k - 1}'s model, which does not "
                         f"load: {problem}; nothing of round {k} was written. Restore it, or start over under "
                         "another name=")
