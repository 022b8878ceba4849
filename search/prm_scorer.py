"""Scoring steps with a trained process reward model (`journeyforge prm`): the text a scorer reads,
where each step's score is read, and one batched forward pass over many paths.

Here (not in training/) because the search reads it too: `search.value=prm` scores every new node of
a wave with it. The scorer is a one-logit token-classification head read at the last token of each
step; its sigmoid is the probability that the step is still on a way to a correct answer.
"""
from __future__ import annotations

import bisect
import json
from pathlib import Path
from typing import Sequence

IGNORE = -100.0  # target of a token that is not a step's last token
SCORER_FILE = "prm.json"  # what a scorer directory holds beside its weights: base model, task, labels


def path_text(prompt: str, steps: Sequence[str], delimiter: str = "\n") -> tuple[str, list[int]]:
    """The scored text (question, then each step and the delimiter) and the character offset just
    past each step, where its score is read."""
    text = prompt + ("" if not prompt or prompt.endswith("\n") else "\n")
    ends = []
    for step in steps:
        text += step
        ends.append(len(text))
        text += delimiter
    return text, ends


def encode_path(tokenizer, prompt: str, steps: Sequence[str], max_length: int) -> tuple[list[int], list[int | None]]:
    """Token ids of the path (at most `max_length`) and, per step, the index of its last token (None
    for a step cut off by `max_length`)."""
    text, ends = path_text(prompt, steps)
    enc = tokenizer(text, return_offsets_mapping=True, add_special_tokens=False, truncation=True,
                    max_length=max_length)
    offsets = enc["offset_mapping"]
    starts = [start for start, _ in offsets]
    covered = offsets[-1][1] if offsets else 0  # text kept after truncation
    positions: list[int | None] = []
    for end in ends:
        last = bisect.bisect_left(starts, end) - 1  # the last token that starts inside the step's text
        positions.append(last if last >= 0 and covered >= end else None)
    return list(enc["input_ids"]), positions


def collate(batch: list[dict], pad_id: int) -> dict:
    import torch

    width = max(len(b["input_ids"]) for b in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    targets = torch.full((len(batch), width), IGNORE, dtype=torch.float32)
    for i, b in enumerate(batch):
        n = len(b["input_ids"])
        ids[i, :n] = torch.tensor(b["input_ids"])
        mask[i, :n] = 1
        for pos, target in zip(b["positions"], b["targets"]):
            if pos is not None:
                targets[i, pos] = target
    return {"input_ids": ids, "attention_mask": mask, "targets": targets}


def check_scorer_dir(path: str | None, option: str = "search.prm") -> dict:
    """The `prm.json` of the scorer directory `path` (the one reader of that file); ValueError naming
    `option` (search.prm, eval.prm) when there is none. The scorer's model files are checked by
    search/model_dirs.py."""
    if not path:
        raise ValueError("search.value=prm needs search.prm=<the scorer directory `journeyforge prm` wrote>")
    meta = Path(path) / SCORER_FILE
    if not meta.is_file():
        raise ValueError(f"{option}={path}: no step scorer there (no {SCORER_FILE}); train one with "
                         "`journeyforge prm` (it writes <workdir>/prm)")
    try:
        data = json.loads(meta.read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"{option}={path}: {meta} cannot be read ({' '.join(str(err).split())})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{option}={path}: {meta} is not a JSON object; train the scorer again with `journeyforge prm`")
    return data


def load_scorer_base(model_ref: str):
    """The base model with a fresh one-logit token-classification head, and its tokenizer."""
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_ref)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    model = AutoModelForTokenClassification.from_pretrained(model_ref, num_labels=1, dtype=torch.float32)
    model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def load_scorer(scorer_dir: str | Path):
    """A trained scorer (adapter over its base, or a full model) and its tokenizer, in eval mode."""
    scorer_dir = Path(scorer_dir)
    meta = check_scorer_dir(str(scorer_dir))
    if (scorer_dir / "adapter_config.json").exists():
        from peft import PeftModel

        from search.policies.default_model import resolve_model

        # The base by name ("smollm2-135m"), resolved here: a scorer copied to another machine still loads.
        base, _ = load_scorer_base(resolve_model(meta["base_model"]))
        model = PeftModel.from_pretrained(base, str(scorer_dir))
    else:
        model, _ = load_scorer_base(str(scorer_dir))
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(scorer_dir))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    model.eval()
    return model, tokenizer


def score_paths(model, tokenizer, rows: Sequence[dict], max_length: int, batch_size: int = 16) -> list[list[float | None]]:
    """Each row's step scores (sigmoid of the head at each step's last token; None past `max_length`),
    one batched forward pass per `batch_size` rows."""
    import torch

    encoded = [encode_path(tokenizer, r["prompt"], r["completions"], max_length) for r in rows]
    out: list[list[float | None]] = []
    with torch.no_grad():
        for i in range(0, len(encoded), batch_size):
            chunk = encoded[i:i + batch_size]
            batch = collate([{"input_ids": ids, "positions": [], "targets": []} for ids, _ in chunk],
                             tokenizer.pad_token_id)
            batch.pop("targets")
            probs = torch.sigmoid(model(**batch).logits.squeeze(-1))
            for j, (_, positions) in enumerate(chunk):
                out.append([float(probs[j, p]) if p is not None else None for p in positions])
    return out
