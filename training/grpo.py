"""GRPO on the task's verifier rewards with TRL's `GRPOTrainer` (+ peft LoRA), from the base model or
from an SFT adapter: the RL half of DeepSeek-R1's recipe (cold-start SFT, then RL with verifiable
rewards), as ASTRO runs it on top of search-derived SFT data.

The prompt set is the exported `rl` configuration (one row per training problem: `prompt`,
`answer`, `problem`, `payload`); each problem is put to the model the way it was tuned (the bare
question, the chat template) or, for an untuned model, with the task's few-shot examples, and
evaluation later prompts the RL model the same way. An SFT adapter is trained further (TRL keeps a
frozen copy of it as the KL reference), so the result is again one adapter on the base model.
A full model (a student trained from scratch, or `train.lora=false`) is trained whole instead: no
adapter, every parameter (the KL reference is TRL's frozen copy of the start), saved as a full model
with the start's SFT record beside it, so evaluation loads and prompts it as it did the start.
"""
from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

from search.tasks.base import Problem, Task
from training.dataset_dirs import read_train_split
from training.rewards import problems_from_columns, reward_functions
from training.rl_settings import RLSettings
from training.sft import SETTINGS_FILE, read_sft_record

log = logging.getLogger(__name__)

# Written next to the adapter: the base model, the prompt style evaluation must use, the curves.
RECORD_FILE = "journeyforge_rl.json"
METRICS_FILE = "metrics.jsonl"
CURVES_FILE = "curves.png"
COLUMNS = ("prompt", "answer", "problem", "payload")
# The per-step metrics TRL logs that the curves and the stage's summary show.
CURVE_KEYS = {"reward": "reward", "accuracy": ("rewards/accuracy/mean", "accuracy"), "kl": "kl",
              "completion_length": "completions/mean_length", "format": ("rewards/format/mean", "format"),
              "loss": "loss"}


def load_prompt_set(dataset_dir: str | Path):
    """The `train` split of an exported `rl` configuration, checked for the columns the rewards read
    (and nothing else: TRL passes every column to the reward functions)."""
    return read_train_split(dataset_dir, COLUMNS, what="RL prompt set")


def prompt_for(task: Task, problem: Problem, style: str) -> str | list[dict[str, str]]:
    """A problem as TRL's `prompt`: text for "fewshot" and "prompt_completion", chat messages for
    "messages" (TRL applies the chat template). The same prompts `training.answer_eval.build_prompt` writes."""
    if style == "fewshot":
        return task.prompt(problem, "fewshot")
    if style == "prompt_completion":
        return task.question(problem)
    if style == "messages":
        return [{"role": "user", "content": task.instructions(problem)}]
    raise ValueError(f"rl.prompt_style must be one of fewshot, prompt_completion, messages; got {style!r}")


def with_prompts(data, task: Task, style: str):
    """The prompt set with `prompt` rewritten in `style` (the reward columns kept)."""
    problems = problems_from_columns(len(data), data["payload"], data["answer"], data["problem"])
    prompts = [prompt_for(task, p, style) for p in problems]
    return data.remove_columns("prompt").add_column("prompt", prompts) if style != "messages" else \
        data.remove_columns("prompt").map(lambda _, i: {"prompt": prompts[i]}, with_indices=True)


def starting_point(settings: RLSettings, sft_dir: str | Path | None) -> tuple[str, str | None, str]:
    """(base model, SFT adapter directory or None, prompt style) for `settings.init`.

    `init=base` starts from `settings.model` with the few-shot prompt; a kind starts from the adapter in
    `sft_dir` on the base model its training record names, with the prompt it was trained on.
    """
    if settings.init == "base":
        return settings.model, None, settings.prompt_style or "fewshot"
    record = read_sft_record(str(sft_dir)) if sft_dir else None
    if record is None:
        raise FileNotFoundError(
            f"rl.init={settings.init}: no SFT adapter in {sft_dir} (no journeyforge_sft.json); run the train "
            f"stage with that kind first, or use rl.init=base")
    style = settings.prompt_style or record["settings"]["format"]
    if is_full_model(sft_dir):
        return str(sft_dir), None, style
    return record["base_model"], str(sft_dir), style


def is_full_model(directory: str | Path | None) -> bool:
    """Whether `directory` holds a whole tuned model the train stage wrote (a from-scratch student, or
    `train.lora=false`) rather than a LoRA adapter: GRPO then trains every parameter of it."""
    if not directory or not Path(directory).is_dir():
        return False
    path = Path(directory)
    return read_sft_record(str(path)) is not None and (path / "config.json").exists() \
        and not (path / "adapter_config.json").exists()


def load_policy(base_model: str, adapter: str | None, settings: RLSettings):
    """(model, tokenizer, peft_config): the base model with the SFT adapter loaded trainable, or the base
    model and a fresh LoRA config for TRL to apply."""
    import torch
    from peft import LoraConfig, PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from search.policies.default_model import resolve_model

    ref = resolve_model(base_model)
    tokenizer = AutoTokenizer.from_pretrained(adapter or ref)
    model = AutoModelForCausalLM.from_pretrained(ref, dtype=torch.float32)
    if adapter is not None:
        return PeftModel.from_pretrained(model, adapter, is_trainable=True), tokenizer, None
    if is_full_model(base_model):
        return model, tokenizer, None   # a small full model: every parameter trains, no LoRA
    targets = settings.target_modules
    if targets != "all-linear":
        targets = [t.strip() for t in targets.split(",") if t.strip()]
    config = LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha, lora_dropout=0.0, target_modules=targets,
                        task_type="CAUSAL_LM")
    return model, tokenizer, config


def build_trainer(data, task: Task, output_dir: str | Path, settings: RLSettings, base_model: str,
                  adapter: str | None, style: str, extra_rewards: Sequence[Any] = ()):
    """A `GRPOTrainer` ready to `.train()` on `data` (an `rl` train split) with the task's rewards.

    `extra_rewards` are appended with weight 1 (tests use one to guarantee a non-zero advantage)."""
    from trl import GRPOConfig, GRPOTrainer

    settings.validate()
    model, tokenizer, peft_config = load_policy(base_model, adapter, settings)
    functions, weights = reward_functions(task, settings.reward, settings.format_weight)
    functions, weights = functions + list(extra_rewards), weights + [1.0] * len(extra_rewards)
    args = GRPOConfig(
        output_dir=str(output_dir),
        max_steps=settings.max_steps,
        per_device_train_batch_size=settings.per_device_train_batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps,
        num_generations=settings.num_generations,
        max_completion_length=settings.max_completion_length,
        temperature=settings.temperature,
        top_p=settings.top_p,
        beta=settings.beta,
        learning_rate=settings.learning_rate,
        loss_type=settings.loss_type,
        reward_weights=weights,
        seed=settings.seed,
        logging_steps=settings.logging_steps,
        use_cpu=settings.use_cpu,
        use_vllm=settings.use_vllm,
        # Dropout makes the policy's and the reference's log-probabilities of the same text differ.
        disable_dropout=True,
        # TRL's GPU defaults: bf16 autocast and activation checkpointing only slow a small model on a CPU.
        bf16=False,
        gradient_checkpointing=False,
        report_to=[],
        push_to_hub=False,
        save_strategy="no",
    )
    return GRPOTrainer(model=model, reward_funcs=functions, args=args, train_dataset=with_prompts(data, task, style),
                       processing_class=tokenizer, peft_config=peft_config)


def curves(log_history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per logged step: step, reward, accuracy, format, kl, completion_length, loss (None where
    TRL did not log it: no KL with beta=0, no format reward with a custom scheme)."""
    rows = []
    for entry in log_history:
        if "reward" not in entry:
            continue
        row = {"step": int(entry.get("step", len(rows) + 1))}
        for name, keys in CURVE_KEYS.items():
            keys = (keys,) if isinstance(keys, str) else keys
            value = next((entry[k] for k in keys if entry.get(k) is not None), None)
            row[name] = float(value) if value is not None else None
        rows.append(row)
    return rows


def plot_curves(rows: Sequence[dict[str, Any]], path: str | Path, title: str = "GRPO") -> Path:
    """reward / accuracy / KL / completion length per step, four panels in one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("reward", "reward (mean of the batch)"), ("accuracy", "accuracy (verifier)"), ("kl", "KL to start"),
              ("completion_length", "completion length (tokens)")]
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.2))
    for ax, (key, label) in zip(axes, panels):
        points = [(r["step"], r[key]) for r in rows if r.get(key) is not None]
        if points:
            ax.plot(*zip(*points), marker="o", markersize=3)
        else:
            ax.text(0.5, 0.5, "not logged", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    if any(r.get("format") is not None for r in rows):
        axes[0].plot([r["step"] for r in rows if r.get("format") is not None],
                     [r["format"] for r in rows if r.get("format") is not None], linestyle="--", label="format")
        axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _mean(values: Sequence[float | None]) -> float:
    found = [v for v in values if v is not None and math.isfinite(v)]
    return sum(found) / len(found) if found else math.nan


def train_grpo(data, task: Task, output_dir: str | Path, settings: RLSettings | None = None,
               base_model: str | None = None, adapter: str | None = None, style: str | None = None,
               extra_rewards: Sequence[Any] = (), title: str | None = None) -> dict[str, Any]:
    """GRPO on `data` (an `rl` train split); save the adapter (or the full model), tokenizer, per-step metrics
    (`metrics.jsonl`), curves (`curves.png`) and the record evaluation reads (`journeyforge_rl.json`)
    to `output_dir`.

    `base_model`/`adapter`/`style` default to `starting_point(settings, None)` (the base model).
    Returns `{"output_dir", "steps", "seconds", "problems", "prompt_style", "first_reward", "last_reward",
    "mean_reward", "mean_accuracy", "last_kl", "mean_length", "generation", "curves"}`.
    """
    settings = settings or RLSettings()
    if base_model is None:
        base_model, adapter, style = starting_point(settings, None)
    style = style or "fewshot"
    start = time.perf_counter()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    trainer = build_trainer(data, task, out, settings, base_model, adapter, style, extra_rewards)
    trainer.train()
    seconds = time.perf_counter() - start

    model = trainer.accelerator.unwrap_model(trainer.model)
    full = adapter is None and is_full_model(base_model)
    if full:
        model.save_pretrained(str(out))
        # The start's record: evaluation reads the prompt style and the student's vocabulary check from it.
        (out / SETTINGS_FILE).write_text((Path(base_model) / SETTINGS_FILE).read_text())
    else:
        # Only the trained adapter: TRL's frozen "ref" copy of an SFT adapter stays behind.
        model.save_pretrained(str(out), selected_adapters=["default"])
    trainer.processing_class.save_pretrained(str(out))
    rows = curves(trainer.state.log_history)
    (out / METRICS_FILE).write_text("".join(json.dumps(r) + "\n" for r in rows))
    plot_curves(rows, out / CURVES_FILE, title or f"GRPO from {settings.init} ({task.name})")
    rewards = [r["reward"] for r in rows]
    summary = {
        "output_dir": str(out),
        "steps": int(trainer.state.global_step),
        "seconds": round(seconds, 2),
        "problems": len(data),
        "prompt_style": style,
        "first_reward": rewards[0] if rewards else math.nan,
        "last_reward": rewards[-1] if rewards else math.nan,
        "mean_reward": _mean(rewards),
        "mean_accuracy": _mean([r["accuracy"] for r in rows]),
        "last_kl": rows[-1]["kl"] if rows and rows[-1]["kl"] is not None else math.nan,
        "mean_length": _mean([r["completion_length"] for r in rows]),
        "generation": "vllm" if settings.use_vllm else "transformers",
        "curves": str(out / CURVES_FILE),
    }
    record = {"settings": asdict(settings), "base_model": base_model, "init_adapter": adapter,
              "full_model": full, "prompt_style": style, "task": task.name, "summary": summary}
    (out / RECORD_FILE).write_text(json.dumps(record, indent=2, default=str))
    print(f"rl: {summary['steps']} GRPO steps on {summary['problems']} problems in {seconds:.1f}s, reward "
          f"{summary['first_reward']:.3f} -> {summary['last_reward']:.3f}, accuracy {summary['mean_accuracy']:.3f}, "
          f"saved to {out}")
    return summary


def read_rl_record(output_dir: str | Path) -> dict[str, Any] | None:
    """The record `train_grpo` wrote into `output_dir`, or None for directories it did not write."""
    path = Path(output_dir) / RECORD_FILE
    if not path.exists():
        return None
    return json.loads(path.read_text())
