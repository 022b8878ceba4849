"""A process reward model: a step scorer trained on stepwise rows, and how to grade one.

TRL 1.16 no longer ships a PRM trainer, so this is transformers' Trainer with a one-logit
token-classification head read at the last token of every step (see `PRMSettings`), trained with
binary cross-entropy on the step targets (hard labels or Monte-Carlo values), LoRA through peft or
every weight. Rows are TRL's stepwise format: `prompt`, `completions` (the steps), `labels` (bool per
step), optionally `values` (float per step).
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any, Sequence

from search.prm_scorer import IGNORE, SCORER_FILE, collate, encode_path, load_scorer, load_scorer_base, path_text, score_paths  # noqa: F401
from training.prm_settings import PRMSettings



def step_targets(row: dict, labels: str) -> list[float]:
    """Per-step training targets: the hard label, or with `labels="soft"` the Monte-Carlo value."""
    hard = [1.0 if ok else 0.0 for ok in row["labels"]]
    if labels != "soft":
        return hard
    values = row.get("values") or []
    return [float(v) if i < len(values) and v is not None and not math.isnan(v) else h
            for i, (h, v) in enumerate(zip(hard, list(values) + [None] * len(hard)))]


def train_prm(rows: Sequence[dict], output_dir: str | Path, settings: PRMSettings, model_ref: str,
              task: dict | None = None) -> dict[str, Any]:
    """Train a step scorer on stepwise `rows` and save it (adapter or full model, tokenizer,
    `prm.json`, which names `task` so that a search of another task refuses it) to `output_dir`;
    returns steps, losses, seconds and the number of scored steps."""
    import torch
    from transformers import Trainer, TrainingArguments

    start = time.perf_counter()
    model, tokenizer = load_scorer_base(model_ref)
    if settings.lora:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha,
                                                 target_modules="all-linear", task_type="TOKEN_CLS",
                                                 modules_to_save=["score"]))
    examples = []
    for row in rows:
        ids, positions = encode_path(tokenizer, row["prompt"], row["completions"], settings.max_length)
        examples.append({"input_ids": ids, "positions": positions, "targets": step_targets(row, settings.labels)})
    scored = sum(p is not None for e in examples for p in e["positions"])

    class StepLossTrainer(Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            targets = inputs.pop("targets")
            logits = model(**inputs).logits.squeeze(-1)
            keep = targets != IGNORE
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits[keep], targets[keep])
            return (loss, logits) if return_outputs else loss

    args = TrainingArguments(
        output_dir=str(output_dir), max_steps=settings.max_steps, per_device_train_batch_size=settings.batch_size,
        learning_rate=settings.learning_rate, seed=settings.seed, logging_steps=1, use_cpu=True, report_to=[],
        save_strategy="no", remove_unused_columns=False, disable_tqdm=True,
    )
    trainer = StepLossTrainer(model=model, args=args, train_dataset=examples,
                              data_collator=lambda batch: collate(batch, tokenizer.pad_token_id))
    trainer.train()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    trainer.save_model(str(out))
    tokenizer.save_pretrained(str(out))
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    summary = {"steps": int(trainer.state.global_step), "paths": len(examples), "scored_steps": scored,
               "first_loss": float(losses[0]) if losses else None,
               "last_loss": float(losses[-1]) if losses else None,
               "seconds": round(time.perf_counter() - start, 1)}
    (out / SCORER_FILE).write_text(json.dumps({"base_model": settings.model, "task": task or {}, "head": "token-classification, 1 logit at "
                                              "each step's last token", "labels": settings.labels,
                                              "lora": settings.lora, "train": summary}, indent=2))
    return summary


def _auc(pos: list[float], neg: list[float]) -> float | None:
    """P(a mistake scores below a good step), ties half: the Mann-Whitney form of ROC AUC; None
    (undefined) without both mistakes and good steps."""
    if not pos or not neg:
        return None
    order = sorted([(s, 1) for s in pos] + [(s, 0) for s in neg])
    rank_sum, i = 0.0, 0
    while i < len(order):
        j = i
        while j < len(order) and order[j][0] == order[i][0]:
            j += 1
        mean_rank = (i + j + 1) / 2
        rank_sum += mean_rank * sum(1 for k in range(i, j) if order[k][1])
        i = j
    return (rank_sum - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))


def grade(predicted: Sequence[Sequence[float | None]], truth: Sequence[Sequence[bool | None]],
          threshold: float = 0.5) -> dict[str, float | None]:
    """Step-level precision, recall and F1 of calling a step a mistake (score < threshold) against
    `truth` (True = a good step), ROC AUC, and ProcessBench-style first-error accuracy: the index of
    the first mistake (or none) of each path, predicted vs true, on paths with an error, on paths
    without, and their harmonic mean. Steps with no score or no truth are left out. A metric with a
    zero denominator (precision when no step is called a mistake) is None: undefined, stored as JSON
    null (PostgreSQL's json refuses NaN)."""
    tp = fp = fn = tn = 0
    mistake_scores, good_scores = [], []
    first_hits = {"error": [0, 0], "clean": [0, 0]}
    for scores, labels in zip(predicted, truth):
        pairs = [(s, t) for s, t in zip(scores, labels) if s is not None and t is not None]
        for s, t in pairs:
            called = s < threshold
            tp += called and not t
            fp += called and t
            fn += (not called) and not t
            tn += (not called) and t
            (good_scores if t else mistake_scores).append(-s)  # higher = more of a mistake
        if not pairs:
            continue
        true_first = next((i for i, (_, t) in enumerate(pairs) if not t), None)
        pred_first = next((i for i, (s, _) in enumerate(pairs) if s < threshold), None)
        key = "error" if true_first is not None else "clean"
        first_hits[key][0] += pred_first == true_first
        first_hits[key][1] += 1
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    err_acc = _ratio(*first_hits["error"])
    clean_acc = _ratio(*first_hits["clean"])
    return {"steps": tp + fp + fn + tn, "mistakes": tp + fn, "precision": precision, "recall": recall,
            "f1": _harmonic(precision, recall),
            "auc": _auc(mistake_scores, good_scores), "first_error_acc_error_paths": err_acc,
            "first_error_acc_clean_paths": clean_acc, "first_error_f1": _harmonic(err_acc, clean_acc),
            "paths": first_hits["error"][1] + first_hits["clean"][1]}


def _ratio(hits: int, total: int) -> float | None:
    """hits / total, None (undefined) when total is 0."""
    return hits / total if total else None


def _harmonic(a: float | None, b: float | None) -> float | None:
    """The harmonic mean of two rates (F1), None when either is undefined or both are 0."""
    return 2 * a * b / (a + b) if a is not None and b is not None and a + b > 0 else None
