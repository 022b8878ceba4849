"""Settings of the training and evaluation stages, one dataclass each (documented where defined).

Defaults are CPU-sized: the bundled 135M model, LoRA, a dozen steps. Real runs override them from
Hydra (`train.max_steps=...`).
"""
from __future__ import annotations

from dataclasses import dataclass

FORMATS = ("prompt_completion", "messages")


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
    max_steps: int = 12
    """Optimizer steps; when <= 0, `epochs` decides the length instead."""
    epochs: float = 1.0
    """Passes over the training split, used only when `max_steps` <= 0."""
    per_device_train_batch_size: int = 4
    """Examples per device per forward pass."""
    gradient_accumulation_steps: int = 1
    """Forward passes per optimizer step."""
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

    def validate(self) -> None:
        """Raise ValueError naming the option when a setting cannot work."""
        if self.format not in FORMATS:
            raise ValueError(f"train.format must be one of {FORMATS}, got {self.format!r}")
        for name in ("per_device_train_batch_size", "gradient_accumulation_steps", "max_length",
                     "logging_steps", "lora_r"):
            if getattr(self, name) < 1:
                raise ValueError(f"train.{name} must be >= 1, got {getattr(self, name)!r}")
        if self.max_steps <= 0 and self.epochs <= 0:
            raise ValueError("train.max_steps <= 0 needs train.epochs > 0")
        if self.learning_rate <= 0:
            raise ValueError(f"train.learning_rate must be > 0, got {self.learning_rate!r}")


@dataclass
class EvalSettings:
    """Evaluation of base and tuned models on held-out problems."""

    max_tokens: int = 160
    """Cap on generated tokens per answer (generation also stops at `</answer>`)."""
    samples: int = 1
    """Sampled answers per problem for maj@k / pass@k (k = samples); 1 = greedy accuracy only."""
    temperature: float = 1.0
    """Sampling temperature for maj@k / pass@k (greedy accuracy always uses temperature 0)."""
    top_p: float = 1.0
    """Nucleus sampling for maj@k / pass@k."""
    seed: int = 0
    """Seed of the sampled answers."""
