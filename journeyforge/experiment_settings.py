"""Settings of the experiment stage (Hydra group `experiment`): arms, seeds, data budget, report.

An arm is one model to compare: the base model (few-shot), an adapter tuned on one kind of
trajectory with its own linearizer and training options, or GRPO (kind `rl`) started from another
arm's adapters. Every arm's data comes from the same trees and problems (matched), cut to the same
budget, so the arms differ only in what the arm says.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from traces.linearize import sft_kinds

BUDGETS = ("examples", "tokens", "none")


def arm_kinds() -> tuple[str, ...]:
    """What an arm can be: `base`, SFT on any trajectory kind of traces/linearize.py KINDS, or `rl`."""
    return ("base", *sft_kinds(), "rl")


@dataclass
class ArmSettings:
    """One arm of an experiment."""

    kind: str = "journey"
    """base (the untuned model, few-shot prompt) | a trajectory kind (traces/linearize.py KINDS: shortcut,
    journey, stream, ...; SFT on that kind) | rl (GRPO on the training problems, from the adapters of arm
    `init`)."""
    linearize: dict[str, Any] = field(default_factory=dict)
    """Options of this arm's linearizer over `linearize.<kind>` (e.g. {backtracks: [1, 1, 1], checks: 0.5})."""
    train: dict[str, Any] = field(default_factory=dict)
    """Training options over `train` for this arm (e.g. {mask_mistakes: true})."""
    init: str | None = None
    """rl arms: the SFT arm whose adapter (the same seed's) GRPO starts from."""
    rl: dict[str, Any] = field(default_factory=dict)
    """rl arms: options over `rl` (e.g. {max_steps: 20, num_generations: 8})."""


def _default_arms() -> dict[str, Any]:
    return {"base": {"kind": "base"}, "shortcut": {"kind": "shortcut"}, "journey": {"kind": "journey"}}


def as_arm(name: str, value: Any) -> ArmSettings:
    """An arm from its config (a mapping of ArmSettings fields); unknown fields are an error."""
    if isinstance(value, ArmSettings):
        return value
    if not isinstance(value, dict):
        raise ValueError(f"experiment.arms.{name} must be a mapping such as {{kind: journey}}, got {value!r}")
    known = [f.name for f in dataclasses.fields(ArmSettings)]
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise ValueError(f"experiment.arms.{name}.{unknown[0]} is not an arm option; options: {known}")
    for key in ("linearize", "train", "rl"):
        if value.get(key) is not None and not isinstance(value[key], dict):
            raise ValueError(f"experiment.arms.{name}.{key} must be a mapping of options, got {value[key]!r}")
    return ArmSettings(**{k: v if v is not None or k == "init" else {} for k, v in value.items()})


@dataclass
class ExperimentSettings:
    """The experiment stage: explore -> matched linearize per arm -> datasets -> train every arm with
    every seed -> evaluate all on the same held-out problems -> report with intervals and tests."""

    arms: dict[str, Any] = field(default_factory=_default_arms)
    """Arm name -> ArmSettings. Add one by config: `+experiment.arms.masked={kind: journey, train:
    {mask_mistakes: true}}`; drop one: `~experiment.arms.base`."""
    seeds: list[int] = field(default_factory=lambda: [0])
    """Training seeds: every tuned arm is trained once per seed (data order, adapter init)."""
    select: list[str] | None = None
    """Arms this job trains and evaluates (a multirun sweeps it: `experiment.select=[shortcut],[journey]`);
    null: all. Linearizing and the report always cover every arm."""
    baseline: str = "shortcut"
    """The arm every other arm is compared with (paired difference, McNemar, compute-matched)."""
    budget: str = "examples"
    """Equal data per tuned arm: `examples` (each gets as many training examples as the smallest),
    `tokens` (as many completion tokens), or `none` (whatever its linearizer made)."""
    max_examples: int | None = None
    """Cap every tuned arm at this many training examples (in the budget's order: one per tree first)
    before the budget is taken; null: no cap. Sizes a preset's training time."""
    samples: int = 8
    """Sampled answers per problem (temperature `eval.temperature`) for maj@k / pass@k of the
    `sample_arms`; the compute-matched comparison reads the baseline's."""
    sample_arms: list[str] = field(default_factory=lambda: ["shortcut"])
    """Arms that get sampled answers besides the greedy one (sampling costs `samples` answers per problem)."""
    resamples: int = 10_000
    """Bootstrap resamples of every interval."""
    dir: str = "${workdir}/experiment"
    """Where the arms' datasets and the report (report.md, *.png) go (resolved against the run's
    `workdir`); adapters go to `train.dir`."""
    explore: bool = True
    """Grow the run's unfinished trees first (the explore stage, which resumes); false: compare on
    the trees finished so far (an explore run stopped early, or one still growing elsewhere)."""
    jobs: int = 1
    """Worker processes that train and evaluate the arms side by side (each (arm, seed) a job of its
    own, GRPO as soon as its start is trained, each model evaluated as soon as it is trained), each
    with cores / jobs threads; 1: one after another in this process. A job's output goes to
    `<experiment.dir>/logs/<arm>-s<seed>.log`."""
    force: bool = False
    """Re-evaluate models whose answers are already stored (training resumes by its own digest)."""
    report_only: bool = False
    """Write the report from what the store holds and do nothing else: no exploring, training or
    evaluating, and no row written. Every selected arm and seed needs its answers to every held-out
    problem stored (a missing one is named); the models need not be on disk, so anyone with a
    committed study's store re-checks its report, and seeds evaluated by separate jobs on the same
    store (`experiment.seeds=[1]`, `[2]`, ...) are reported together."""

    def __post_init__(self) -> None:
        # A plain dict in the config (Hydra cannot type a dict of dataclasses given on the command
        # line); ArmSettings from here on.
        self.arms = {str(name): as_arm(str(name), value) for name, value in dict(self.arms).items()}

    def validate(self) -> None:
        from dataclasses import fields

        from traces.linearize import kind_config
        from training.sft_settings import SFTSettings

        if not self.arms:
            raise ValueError("experiment.arms is empty: give at least one arm")
        train_fields = {f.name for f in fields(SFTSettings)}
        for name, arm in self.arms.items():
            if "/" in name or not name:
                raise ValueError(f"experiment.arms.{name}: an arm name is a non-empty string without '/'")
            if arm.kind not in arm_kinds():
                raise ValueError(f"experiment.arms.{name}.kind={arm.kind!r}: choose one of {arm_kinds()}")
            if arm.kind == "base" and (arm.linearize or arm.train):
                raise ValueError(f"experiment.arms.{name}: a base arm is not trained; drop its linearize/train options")
            if arm.kind != "rl" and (arm.init is not None or arm.rl):
                raise ValueError(f"experiment.arms.{name}: init and rl are options of rl arms only (kind: rl)")
            if arm.kind == "rl":
                self._validate_rl_arm(name, arm)
            elif arm.kind != "base":
                known = {f.name for f in fields(kind_config(arm.kind))}
                bad = sorted(set(arm.linearize) - known)
                if bad:
                    raise ValueError(f"experiment.arms.{name}.linearize.{bad[0]} is not an option of the {arm.kind} "
                                     f"linearizer; its options are {sorted(known)}")
                bad = sorted(set(arm.train) - train_fields)
                if bad:
                    raise ValueError(f"experiment.arms.{name}.train.{bad[0]} is not a train option; "
                                     f"options: {sorted(train_fields)}")
                if "seed" in arm.train:
                    raise ValueError(f"experiment.arms.{name}.train.seed: seeds come from experiment.seeds")
        for option, names in (("select", self.select or []), ("sample_arms", self.sample_arms)):
            unknown = sorted(set(names) - set(self.arms))
            if unknown:
                raise ValueError(f"experiment.{option}: {unknown} are not arms; arms: {sorted(self.arms)}")
        if self.baseline not in self.arms:
            raise ValueError(f"experiment.baseline={self.baseline!r} is not an arm; arms: {sorted(self.arms)}")
        if self.budget not in BUDGETS:
            raise ValueError(f"experiment.budget={self.budget!r}: choose one of {BUDGETS}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"experiment.seeds={self.seeds!r}: give distinct seeds, at least one")
        if self.max_examples is not None and (isinstance(self.max_examples, bool)
                                              or not isinstance(self.max_examples, int) or self.max_examples < 1):
            raise ValueError(f"experiment.max_examples must be an integer >= 1 or null, got {self.max_examples!r}")
        for name in ("samples", "resamples", "jobs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"experiment.{name} must be an integer >= 1, got {value!r}")
        if not self.dir:
            raise ValueError("experiment.dir must be a directory, got an empty string")

    def _validate_rl_arm(self, name: str, arm: ArmSettings) -> None:
        from dataclasses import fields

        from training.rl_settings import RLSettings

        if arm.linearize or arm.train:
            raise ValueError(f"experiment.arms.{name}: an rl arm trains no SFT data of its own; drop its "
                             "linearize/train options (its start is arm `init`)")
        starts = self.tuned()
        if arm.init not in starts:
            raise ValueError(f"experiment.arms.{name}.init={arm.init!r}: name the SFT arm GRPO starts from, one of {starts}")
        owned = {"init", "seed", "dir", "force", "in_run"}  # set by the experiment, not per arm
        known = {f.name for f in fields(RLSettings)} - owned
        bad = sorted(set(arm.rl) - known)
        if bad:
            raise ValueError(f"experiment.arms.{name}.rl.{bad[0]} is not an rl option here; options: {sorted(known)}")

    def tuned(self) -> list[str]:
        """Names of the arms tuned by SFT on their own trajectories (linearized, budgeted, trained)."""
        return [n for n, a in self.arms.items() if a.kind in sft_kinds()]

    def rl_arms(self) -> list[str]:
        """Names of the arms trained by GRPO from another arm's adapters."""
        return [n for n, a in self.arms.items() if a.kind == "rl"]

    def arm_models(self, train_scratch: bool = False) -> list[tuple[str, str, bool]]:
        """(option, model, tokenizer loaded from it) of every model an arm names over the run's own
        (`train.model` in an SFT arm's `train`, `model` in an rl arm's `rl`), for checks before the first
        arm runs; an arm that trains a student from scratch loads none."""
        out = []
        for name, arm in self.arms.items():
            options, group = (arm.rl, "rl") if arm.kind == "rl" else (arm.train, "train")
            if options.get("scratch", train_scratch if group == "train" else False) or not options.get("model"):
                continue
            out.append((f"experiment.arms.{name}.{group}.model", str(options["model"]), True))
        return out

    def selected(self) -> list[str]:
        """Arms this job trains and evaluates."""
        return list(self.select) if self.select is not None else list(self.arms)

