"""What `journeyforge evolve` checks before round 0 runs (issue 38: composite stages check every
round's settings first): every round's config, `evolve.policy` included, and `evolve.dir`; and, before
round k >= 1 writes anything, the model round k-1 left for it."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from omegaconf import DictConfig

from journeyforge.evolve_settings import EvolveSettings
from journeyforge.folders import folder_problem
from journeyforge.settings import ConfigError, validate_config
from journeyforge.stages.common import StageError


def check_round_settings(cfg: DictConfig, ev: EvolveSettings) -> None:
    """ConfigError unless the config of every round k >= 1 passes `validate_config` with the model round
    k-1 will leave (its directory need not exist yet: options are checked, no model is loaded). A fault
    of `evolve.policy` is named as such: the round is checked without it first."""
    from journeyforge.stages.evolve import round_config, round_model

    check_expert_settings(cfg, ev)
    for k in range(1, ev.rounds):
        planned = round_model(cfg, ev, k - 1)
        for options in ({}, ev.policy or {}):
            try:
                validate_config(round_config(cfg, dataclasses.replace(ev, policy=options), k, planned, None))
            except ConfigError as err:
                text = str(err)
                if options:
                    text = text.replace("policy.", "evolve.policy.", 1)
                    raise ConfigError(f"{text} (round {k}'s policy: round {k - 1}'s model with evolve.policy over "
                                      "it); nothing was written") from None
                raise ConfigError(f"round {k} of evolve run {cfg.name!r}: {text}; nothing was written") from None


def check_expert_settings(cfg: DictConfig, ev: EvolveSettings) -> None:
    """ConfigError for expert-iteration settings that cannot work together with the other groups'."""
    train = cfg.get("train") or {}
    if ev.init == "continue" and train.get("lora") and not train.get("scratch"):
        raise ConfigError("evolve.init=continue trains round k-1's whole model further, and train.lora=true "
                          "would leave only an adapter: set train.lora=false, or evolve.init=base")
    sampling = cfg.get("eval") or {}
    if ev.learn_from != "trees" and ev.samples > 1 and sampling.get("temperature", 1.0) == 0:
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
