"""Where each arm's model of each seed lives, how it is trained there, and how eval is told to load it.

SFT arms: `<train.dir>/<arm>-s<seed>` (an adapter, or a whole student trained from scratch); rl
arms: `<rl.dir>/<arm>-s<seed>`; the base arm is `train.model` itself. Labels are `<arm>/s<seed>`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from journeyforge.components import settings
from journeyforge.experiment_settings import ExperimentSettings
from journeyforge.stages.common import StageError
from journeyforge.stages.train import train_adapter
from training.config import SFTSettings


def experiment_settings(cfg: DictConfig) -> ExperimentSettings:
    exp = settings(ExperimentSettings, cfg.experiment, "experiment")
    exp.validate()
    return exp


def model_label(arm: str, seed: int | None) -> str:
    return arm if seed is None else f"{arm}/s{seed}"


def train_settings(cfg: DictConfig, arm_train: dict[str, Any], seed: int) -> tuple[SFTSettings, Path, bool]:
    node = OmegaConf.to_container(cfg.train, resolve=True)
    node.pop("kinds", None)
    out_root, force = Path(node.pop("dir")), node.pop("force", False)
    node.update(arm_train)
    node["seed"] = seed
    sft = settings(SFTSettings, node, "train")
    sft.validate()
    return sft, out_root, force


def rl_adapter_dir(cfg: DictConfig, name: str, seed: int) -> Path:
    return Path(cfg.rl.dir) / f"{name}-s{seed}"


def train_arm(cfg: DictConfig, exp: ExperimentSettings, store, data: Path, name: str, seed: int) -> dict:
    """SFT of arm `name` with `seed` on its dataset `data` into `<train.dir>/<name>-s<seed>`."""
    sft, out_root, force = train_settings(cfg, exp.arms[name].train, seed)
    return train_adapter(store, cfg, data, out_root / f"{name}-s{seed}", sft, force, f"{cfg.name}/{name}-s{seed}")


def rl_arm_settings(cfg: DictConfig, arm, seed: int):
    from training.rl_config import RLSettings

    node = OmegaConf.to_container(cfg.rl, resolve=True)
    node.update(arm.rl)
    node.update(init=arm.init, seed=seed)
    rl = settings(RLSettings, node, "rl")
    rl.validate()
    return rl


def train_rl_arm(cfg: DictConfig, exp: ExperimentSettings, store, task, data_dir: Path, name: str,
                 seed: int) -> dict:
    """GRPO of rl arm `name` with `seed` from its `init` arm's adapter of the same seed."""
    from journeyforge.stages.rl import train_rl_adapter
    from training.grpo import is_full_model, load_prompt_set, starting_point

    arm = exp.arms[name]
    _, out_root, _ = train_settings(cfg, exp.arms[arm.init].train, seed)
    sft_dir = out_root / f"{arm.init}-s{seed}"
    if not (sft_dir / "adapter_config.json").exists() and not is_full_model(sft_dir):
        raise StageError(f"experiment.arms.{name}: no adapter {sft_dir} of arm {arm.init!r} (seed {seed}) to "
                         f"start GRPO from; train that arm first (experiment.select includes it)")
    rl = rl_arm_settings(cfg, arm, seed)
    return train_rl_adapter(store, cfg, task, data_dir, load_prompt_set(data_dir), rl_adapter_dir(cfg, name, seed),
                            rl, starting_point(rl, sft_dir), f"{cfg.name}/{name}-s{seed}")


def model_entry(cfg: DictConfig, exp: ExperimentSettings, name: str, seed: int | None) -> tuple:
    """(label, model, adapter or None, samples, prompt style or None) of arm `name`'s model of `seed`
    (None for a base arm), as `evaluate_models` takes it; StageError when it was not trained."""
    arm = exp.arms[name]
    k = exp.samples if name in exp.sample_arms else 1
    if arm.kind == "base":
        return (name, cfg.train.model, None, k, None)
    if arm.kind == "rl":
        from training.grpo import read_rl_record

        adapter = rl_adapter_dir(cfg, name, seed)
        record = read_rl_record(adapter)
        if record is None:
            raise StageError(f"no GRPO adapter in {adapter}: the rl step of arm {name!r} did not run")
        if record.get("full_model"):  # GRPO trained a whole student: it is the model, no adapter
            return (model_label(name, seed), str(adapter), None, k, record["prompt_style"])
        return (model_label(name, seed), record["base_model"], str(adapter), k, record["prompt_style"])
    _, out_root, _ = train_settings(cfg, arm.train, seed)
    adapter = out_root / f"{name}-s{seed}"
    if (adapter / "adapter_config.json").exists():
        return (model_label(name, seed), cfg.train.model, str(adapter), k, None)
    if (adapter / "config.json").exists():  # a full model (train.lora=false, train.scratch): no base
        return (model_label(name, seed), str(adapter), None, k, None)
    raise StageError(f"no adapter in {adapter}: the train step of arm {name!r} did not run")


def model_seeds(exp: ExperimentSettings, name: str) -> list[int | None]:
    """The seeds arm `name` has a model of: every experiment seed, or [None] for the untrained base."""
    return [None] if exp.arms[name].kind == "base" else list(exp.seeds)


