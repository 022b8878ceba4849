"""Settings of the `train` stage (Hydra group `train`): supervised fine-tuning with TRL's SFTTrainer.

Defaults are CPU-sized (the bundled 135M model, LoRA, 20 steps) and are the only defaults: the Hydra
group `train` is TrainSettings, and `conf/train/*.yaml` hold only overrides. Real runs override them
from Hydra (`train.max_steps=...`). The `eval` stage's settings are in training/eval_settings.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from search.bounds import MAX_BATCH, MAX_LORA_RANK, MAX_SEQUENCE_TOKENS, MAX_TRAIN_STEPS, check_ints, check_number
from training.student import StudentSettings

FORMATS = ("prompt_completion", "messages")
BATCH_ORDERS = ("random", "group_by_length")

# train.<option> -> (least, most); the upper bounds only catch slips (search/bounds.py says why each number).
SFT_BOUNDS = {"max_steps": (-1, MAX_TRAIN_STEPS), "per_device_train_batch_size": (1, MAX_BATCH),
              "gradient_accumulation_steps": (1, MAX_BATCH), "max_length": (1, MAX_SEQUENCE_TOKENS),
              "logging_steps": (1, MAX_TRAIN_STEPS), "lora_r": (1, MAX_LORA_RANK), "lora_alpha": (1, 16 * MAX_LORA_RANK)}
# Passes over the data when max_steps <= 0: 1,000 epochs of even 100 examples is beyond any recipe
# (the CPU laboratory's 10 is the most a preset asks for).
MAX_EPOCHS = 1_000

@dataclass
class SFTSettings:
    """Supervised fine-tuning with TRL's `SFTTrainer`, optionally through a peft LoRA adapter."""

    model: str = "smollm2-135m"
    """Base model: the bundled default ("smollm2-135m"), a local directory, or a hub id."""
    format: str = "prompt_completion"
    """Which exported columns to train on: "prompt_completion" (`prompt`/`completion`, loss on the
    completion only) or "messages" (chat template; assistant-only loss when the template supports it)."""
    lora: bool = True
    """Train a LoRA adapter (peft) instead of every weight; the output directory then holds the adapter."""
    lora_r: int = 16
    """LoRA rank."""
    lora_alpha: int = 32
    """LoRA scaling numerator (the update is scaled by alpha / r)."""
    lora_dropout: float = 0.05
    """Dropout on the LoRA branch."""
    target_modules: str = "all-linear"
    """Modules that get adapters: "all-linear" or a comma-separated list such as "q_proj,v_proj"."""
    max_steps: int = 20
    """Optimizer steps; when <= 0, `epochs` decides the length instead (20 fit the demo's few
    hundred examples on a CPU in about three minutes)."""
    epochs: float = 1.0
    """Passes over the training split, used only when `max_steps` <= 0."""
    per_device_train_batch_size: int = 4
    """Examples per device per forward pass."""
    gradient_accumulation_steps: int = 1
    """Forward passes per optimizer step."""
    batch_order: str = "random"
    """How examples are drawn into batches: `random`, or `group_by_length` (batches of similar lengths,
    the transformers sampler: far less padding when lengths vary, as Stream of Search's streams do
    from 20 to 1,100 tokens; measured 7.4 s per step with random batches of streams on this CPU)."""
    learning_rate: float = 5e-4
    """Peak learning rate (LoRA tolerates far higher rates than full fine-tuning)."""
    max_length: int = 512
    """Tokens per example; longer examples are truncated (journeys are long: check the export stats)."""
    seed: int = 0
    """Seed of the trainer (data order, adapter initialisation, dropout)."""
    logging_steps: int = 1
    """Log the loss every this many steps (the returned first/last losses come from these logs)."""
    use_cpu: bool = True
    """Train on the CPU even when an accelerator is present."""
    mask_mistakes: bool = False
    """Take a journey's mistaken steps out of the loss (the exported `spans`): the model reads them
    as context but is not taught to write them (format prompt_completion only)."""
    mask_reflections: bool = False
    """Also take the reflections that close the mistakes out of the loss (with `mask_mistakes`)."""
    scratch: bool = False
    """Train a new small decoder from scratch (`student`: its size and tokenizer, made for the data)
    on every parameter, instead of tuning `model`; needs `lora=false` and `format=prompt_completion`
    (a from-scratch student has no chat template)."""
    student: StudentSettings = field(default_factory=StudentSettings)
    """The from-scratch student's family, size, context length and tokenizer (with `scratch`)."""

    def validate(self) -> None:
        """Raise ValueError naming the option when a setting cannot work."""
        if self.format not in FORMATS:
            raise ValueError(f"train.format must be one of {FORMATS}, got {self.format!r}")
        check_ints("train.", self, SFT_BOUNDS)
        if self.max_steps <= 0 and self.epochs <= 0:
            raise ValueError("train.max_steps <= 0 needs train.epochs > 0")
        if self.max_steps <= 0:
            check_number("train.epochs", self.epochs, 0, MAX_EPOCHS, "(passes over the data)")
        if self.batch_order not in BATCH_ORDERS:
            raise ValueError(f"train.batch_order must be one of {BATCH_ORDERS}, got {self.batch_order!r}")
        if self.learning_rate <= 0:
            raise ValueError(f"train.learning_rate must be > 0, got {self.learning_rate!r}")
        if self.scratch:
            if self.lora:
                raise ValueError("train.scratch=true trains every parameter of a new model: set train.lora=false")
            if self.format != "prompt_completion":
                raise ValueError("train.scratch=true needs train.format=prompt_completion (a from-scratch student has "
                                 f"no chat template), got train.format={self.format!r}")
            self.student.validate()
        if (self.mask_mistakes or self.mask_reflections) and self.format != "prompt_completion":
            raise ValueError("train.mask_mistakes / train.mask_reflections need train.format=prompt_completion "
                             f"(spans are offsets into the completion), got train.format={self.format!r}")


@dataclass
class TrainSettings(SFTSettings):
    """The train stage (Hydra group `train`): one `SFTSettings` run per trajectory kind."""

    kinds: list[str] | None = None
    """Kinds to train one adapter each for; null: `linearize.train_kinds`, else every linearized kind."""
    dir: str = "outputs/models"
    """Where the adapters go, one subdirectory per kind."""
    force: bool = False
    """Retrain even when an adapter with the same data and settings exists."""

    def validate(self) -> None:
        super().validate()
        if not self.dir:
            raise ValueError("train.dir must be a directory, got an empty string")
