"""Where each arm's model of each seed lives, how it is trained there, and how eval is told to load it.

SFT arms: `<train.dir>/<arm>-s<seed>` (an adapter, or a whole student trained from scratch); rl
arms: `<rl.dir>/<arm>-s<seed>`; the base arm is `train.model` itself. Labels are `<arm>/s<seed>`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig

from journeyforge.components import eval_settings, settings, with_options
from journeyforge.experiment_settings import ExperimentSettings
from journeyforge.stages.common import StageError
from journeyforge.stages.train import train_adapter
from traces.linearize_settings import LinearizeSettings
from training.eval_settings import EvalSettings
from training.rl_settings import RLSettings
from training.sft_settings import SFTSettings, TrainSettings


def experiment_settings(cfg: DictConfig) -> ExperimentSettings:
    exp = settings(ExperimentSettings, cfg.experiment, "experiment")
    exp.validate()
    return exp


@dataclass(frozen=True)
class ExperimentParts:
    """The settings the experiment hands to the stages it calls, each class built once per run from
    the resolved config. An arm's training and GRPO settings are copies of `train` and `rl` with the
    arm's own options (`experiment.arms.<arm>.train` / `.rl`) and the seed over them, made once each."""

    exp: ExperimentSettings
    train: TrainSettings
    eval: EvalSettings
    rl: RLSettings | None
    """None for a config composed without an `rl` group (then no arm may be an rl arm)."""
    linearize: LinearizeSettings
    """The options each arm's kind is linearized with (an arm's own `linearize` options over them)."""
    _made: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, cfg: DictConfig, built: dict | None = None) -> "ExperimentParts":
        """The parts of `cfg`; with `built` (what `validate_config(cfg)` returned), its objects as they are."""
        from journeyforge.stages.rl import optional_rl_settings

        if built is not None:
            return cls(built["experiment"], built["train"], built["eval"], built.get("rl"), built["linearize"])
        return cls(experiment_settings(cfg), settings(TrainSettings, cfg.train, "train"), eval_settings(cfg),
                   optional_rl_settings(cfg), settings(LinearizeSettings, cfg.linearize, "linearize"))

    def sft(self, name: str, seed: int) -> SFTSettings:
        """Arm `name`'s SFT settings of `seed`: `train` (less the stage's kinds, dir and force) with the
        arm's `train` options and the seed over it."""
        if ("sft", name, seed) not in self._made:
            sft = with_options(self.train, {**self.exp.arms[name].train, "seed": seed}, "train", SFTSettings)
            sft.validate()
            self._made["sft", name, seed] = sft
        return self._made["sft", name, seed]

    def rl_arm(self, name: str, seed: int) -> RLSettings:
        """Rl arm `name`'s GRPO settings of `seed`: `rl` with the arm's `rl` options, its init and the seed."""
        if ("rl", name, seed) not in self._made:
            arm = self.exp.arms[name]
            rl = with_options(self.rl or RLSettings(), {**arm.rl, "init": arm.init, "seed": seed}, "rl")
            rl.validate()
            self._made["rl", name, seed] = rl
        return self._made["rl", name, seed]

    def adapter_dir(self, name: str, seed: int) -> Path:
        """Where SFT arm `name`'s model of `seed` is trained: `<train.dir>/<name>-s<seed>`."""
        return Path(self.train.dir) / f"{name}-s{seed}"

    def rl_adapter_dir(self, name: str, seed: int) -> Path:
        """Where rl arm `name`'s model of `seed` is trained: `<rl.dir>/<name>-s<seed>`."""
        return Path((self.rl or RLSettings()).dir) / f"{name}-s{seed}"


def model_label(arm: str, seed: int | None) -> str:
    return arm if seed is None else f"{arm}/s{seed}"


def train_arm(cfg: DictConfig, parts: ExperimentParts, store, data: Path, name: str, seed: int) -> dict:
    """SFT of arm `name` with `seed` on its dataset `data` into `<train.dir>/<name>-s<seed>`."""
    return train_adapter(store, cfg, data, parts.adapter_dir(name, seed), parts.sft(name, seed), parts.train.force,
                         f"{cfg.name}/{name}-s{seed}")


def train_rl_arm(cfg: DictConfig, parts: ExperimentParts, store, task, data_dir: Path, name: str,
                 seed: int) -> dict:
    """GRPO of rl arm `name` with `seed` from its `init` arm's adapter of the same seed."""
    from journeyforge.stages.rl import train_rl_adapter
    from training.grpo import is_full_model, load_prompt_set, starting_point

    arm = parts.exp.arms[name]
    sft_dir = parts.adapter_dir(arm.init, seed)
    if not (sft_dir / "adapter_config.json").exists() and not is_full_model(sft_dir):
        raise StageError(f"experiment.arms.{name}: no adapter {sft_dir} of arm {arm.init!r} (seed {seed}) to "
                         f"start GRPO from; train that arm first (experiment.select includes it)")
    rl = parts.rl_arm(name, seed)
    return train_rl_adapter(store, cfg, task, data_dir, load_prompt_set(data_dir), parts.rl_adapter_dir(name, seed),
                            rl, starting_point(rl, sft_dir), f"{cfg.name}/{name}-s{seed}")


def model_entry(parts: ExperimentParts, name: str, seed: int | None) -> tuple:
    """(label, model, adapter or None, samples, prompt style or None) of arm `name`'s model of `seed`
    (None for a base arm), as `evaluate_models` takes it; StageError when it was not trained."""
    exp = parts.exp
    arm = exp.arms[name]
    k = exp.samples if name in exp.sample_arms else 1
    if arm.kind == "base":
        return (name, parts.train.model, None, k, None)
    if arm.kind == "rl":
        from training.grpo import read_rl_record

        adapter = parts.rl_adapter_dir(name, seed)
        record = read_rl_record(adapter)
        if record is None:
            raise StageError(f"no GRPO adapter in {adapter}: the rl step of arm {name!r} did not run")
        if record.get("full_model"):  # GRPO trained a whole student: it is the model, no adapter
            return (model_label(name, seed), str(adapter), None, k, record["prompt_style"])
        return (model_label(name, seed), record["base_model"], str(adapter), k, record["prompt_style"])
    adapter = parts.adapter_dir(name, seed)
    if (adapter / "adapter_config.json").exists():
        return (model_label(name, seed), parts.train.model, str(adapter), k, None)
    if (adapter / "config.json").exists():  # a full model (train.lora=false, train.scratch): no base
        return (model_label(name, seed), str(adapter), None, k, None)
    raise StageError(f"no adapter in {adapter}: the train step of arm {name!r} did not run")


def model_seeds(exp: ExperimentSettings, name: str) -> list[int | None]:
    """The seeds arm `name` has a model of: every experiment seed, or [None] for the untrained base."""
    return [None] if exp.arms[name].kind == "base" else list(exp.seeds)


