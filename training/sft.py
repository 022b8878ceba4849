"""Supervised fine-tuning on exported trajectories with TRL's `SFTTrainer` (+ peft LoRA).

The exported `DatasetDict` already uses TRL's column names, so no formatting function is needed:
we keep `prompt`/`completion` (loss on the completion only) or `messages` (chat template) and hand
the dataset to the trainer as it is.
"""
from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from training.sft_settings import SFTSettings
from training.dataset_dirs import read_train_split
from training.student import StudentSettings, build_model, build_tokenizer, check_examples

log = logging.getLogger(__name__)

COLUMNS = {"prompt_completion": ["prompt", "completion"], "messages": ["messages"]}
# Written next to the adapter so that evaluation knows the base model and which prompt the tuned
# model was trained on (bare question vs. chat template).
SETTINGS_FILE = "journeyforge_sft.json"


def load_train_split(dataset_dir: str, fmt: str, extra: tuple[str, ...] = ()):
    """The `train` split of an exported dataset, reduced to the columns TRL reads for `fmt` (plus
    whichever of `extra` it has)."""
    return read_train_split(dataset_dir, COLUMNS[fmt], needed_by=f" needed by train.format={fmt!r}", optional=extra)


def check_dataset(dataset_dir: str, student: StudentSettings) -> int:
    """`check_examples` on the train split of an exported dataset, with the tokenizer training would
    build for a from-scratch `student`; the train stage runs it before it records a run. Returns the
    longest example's tokens (StudentError when one does not encode or fit)."""
    train = load_train_split(dataset_dir, "prompt_completion")
    tokenizer = build_tokenizer([t for column in ("prompt", "completion") for t in train[column]], student.tokenizer,
                                student.vocab_size)
    return check_examples(zip(train["prompt"], train["completion"]), tokenizer, student,
                          f"the train split of {dataset_dir}")


def template_supports_assistant_mask(tokenizer) -> bool:
    """True when TRL can mask non-assistant tokens with this tokenizer's chat template.

    TRL needs `{% generation %}` markers, either in the template or in a patched training template it
    ships for known model families; others (SmolLM2's plain ChatML among them) get the full-sequence loss.
    """
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    template = tokenizer.chat_template
    if not template:
        return False
    if has_generation_markers(template):
        return True
    try:
        get_training_chat_template(tokenizer)
    except ValueError:
        return False
    return True


def build_trainer(dataset_dir: str, output_dir: str, settings: SFTSettings):
    """An `SFTTrainer` ready to `.train()`, and the loss mode it uses ("completion_only" |
    "assistant_only" | "full_sequence")."""
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from search.policies.default_model import resolve_model

    settings.validate()
    from training.masking import masked_dataset, masked_roles

    roles = masked_roles(settings.mask_mistakes, settings.mask_reflections)
    train = load_train_split(dataset_dir, settings.format, ("spans",) if roles else ())
    if settings.scratch:
        model_ref = "a student from scratch"
        tokenizer = build_tokenizer([t for column in ("prompt", "completion") for t in train[column]],
                                    settings.student.tokenizer, settings.student.vocab_size)
        check_examples(zip(train["prompt"], train["completion"]), tokenizer, settings.student,
                       f"the train split of {dataset_dir}")
        if roles:
            train = masked_dataset(train, tokenizer, roles)
        model = build_model(tokenizer, settings.student)
    else:
        model_ref = resolve_model(settings.model)
        tokenizer = AutoTokenizer.from_pretrained(model_ref)
        if roles:
            train = masked_dataset(train, tokenizer, roles)
        model = AutoModelForCausalLM.from_pretrained(model_ref, dtype=torch.float32)

    assistant_only = settings.format == "messages" and template_supports_assistant_mask(tokenizer)
    if settings.format == "prompt_completion":
        loss_mode = "completion_only" + ("".join(f", {r}s masked" for r in sorted(roles)))
    else:
        loss_mode = "assistant_only" if assistant_only else "full_sequence"
        if not assistant_only:
            log.warning("chat template of %s has no assistant mask: training on the whole conversation", model_ref)

    args = SFTConfig(
        output_dir=output_dir,
        max_steps=settings.max_steps if settings.max_steps > 0 else -1,
        num_train_epochs=settings.epochs,
        per_device_train_batch_size=settings.per_device_train_batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps,
        train_sampling_strategy=settings.batch_order,
        learning_rate=settings.learning_rate,
        max_length=settings.student.context_length if settings.scratch else settings.max_length,
        seed=settings.seed,
        include_num_input_tokens_seen=True,   # tokens/s in the summary
        logging_steps=settings.logging_steps,
        use_cpu=settings.use_cpu,
        # Only meaningful for prompt/completion rows; a messages dataset has no completion mask.
        completion_only_loss=settings.format == "prompt_completion",
        assistant_only_loss=assistant_only,
        report_to=[],
        push_to_hub=False,
        save_strategy="no",
        # TRL turns bf16 autocast on by default; on a CPU its matmuls fall back to a generic kernel
        # about 10x slower than float32 (measured: 94 s vs <10 s per step of 8 shortcuts).
        **({"bf16": False} if settings.use_cpu else {}),
    )
    peft_config = None
    if settings.lora:
        targets = settings.target_modules
        if targets != "all-linear":
            targets = [t.strip() for t in targets.split(",") if t.strip()]
        peft_config = LoraConfig(
            r=settings.lora_r,
            lora_alpha=settings.lora_alpha,
            lora_dropout=settings.lora_dropout,
            target_modules=targets,
            task_type="CAUSAL_LM",
        )
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=train, processing_class=tokenizer, peft_config=peft_config
    )
    return trainer, loss_mode


def train_sft(dataset_dir: str, output_dir: str, settings: SFTSettings | None = None) -> dict[str, Any]:
    """Fine-tune `settings.model` (or, with `settings.scratch`, a new student made for the data) on the
    train split of an exported dataset; save the LoRA adapter (or the full model) and tokenizer to
    `output_dir`, so that `policy=hf policy.model=<output_dir>` loads a full model like any other.

    Returns `{"output_dir", "train_loss" (mean over steps), "first_loss", "last_loss", "steps",
    "seconds" (wall time including model loading), "examples", "loss_mode", "tokens" (input tokens
    trained on), "tokens_per_s" (of the training loop), "parameters" (trainable)}`.
    """
    settings = settings or SFTSettings()
    start = time.perf_counter()
    trainer, loss_mode = build_trainer(dataset_dir, output_dir, settings)
    result = trainer.train()
    seconds = time.perf_counter() - start

    out = Path(output_dir)
    trainer.save_model(str(out))
    trainer.processing_class.save_pretrained(str(out))
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    tokens = int(trainer.state.num_input_tokens_seen or 0)
    runtime = float(result.metrics.get("train_runtime") or 0.0)
    summary = {
        "output_dir": str(out),
        "train_loss": float(result.training_loss),
        "first_loss": float(losses[0]) if losses else math.nan,
        "last_loss": float(losses[-1]) if losses else math.nan,
        "steps": int(trainer.state.global_step),
        "seconds": round(seconds, 2),
        "examples": len(trainer.train_dataset),
        "loss_mode": loss_mode,
        "tokens": tokens,
        "tokens_per_s": round(tokens / runtime, 1) if runtime > 0 else math.nan,
        "parameters": sum(p.numel() for p in trainer.model.parameters() if p.requires_grad),
    }
    base = "scratch" if settings.scratch else settings.model
    record = {"settings": asdict(settings), "base_model": base, "dataset_dir": str(dataset_dir),
              "summary": summary}
    (out / SETTINGS_FILE).write_text(json.dumps(record, indent=2))
    print(
        f"sft: {summary['examples']} examples, {summary['steps']} steps in {summary['seconds']:.1f}s, "
        f"loss {summary['first_loss']:.3f} -> {summary['last_loss']:.3f} (mean {summary['train_loss']:.3f}, "
        f"{loss_mode}), {summary['tokens_per_s']:.0f} tokens/s, saved to {out}"
    )
    return summary


def read_sft_record(output_dir: str) -> dict[str, Any] | None:
    """The settings record `train_sft` wrote into `output_dir`, or None for directories it did not write."""
    path = Path(output_dir) / SETTINGS_FILE
    if not path.exists():
        return None
    return json.loads(path.read_text())
