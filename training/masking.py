"""Loss masks over parts of a completion: train on a journey's recovery without its mistakes.

`train.mask_mistakes` takes the mistaken steps of a journey out of the loss (the model still reads
them, as context, but is not taught to write them); `train.mask_reflections` also the reflections
that close them. The exported `spans` column says which characters are which; here they become
TRL's `completion_mask` on a pre-tokenized dataset (TRL then builds labels from it and skips its
own tokenization), tokenized exactly as TRL tokenizes prompt/completion rows: prompt + completion
+ EOS, the completion starting where the tokenized prompt stops being a prefix.
"""
from __future__ import annotations

from typing import Any, Iterable


def masked_roles(mask_mistakes: bool, mask_reflections: bool) -> set[str]:
    """The span roles taken out of the loss."""
    return ({"mistake"} if mask_mistakes else set()) | ({"reflection"} if mask_reflections else set())


def _overlaps(start: int, end: int, ranges: Iterable[tuple[int, int]]) -> bool:
    return any(start < b and a < end for a, b in ranges)


def tokenize_with_mask(tokenizer, prompt: str, completion: str, spans: Iterable[dict[str, Any]],
                       roles: set[str]) -> dict[str, list[int]]:
    """`input_ids` of prompt + completion + EOS and a `completion_mask` that is 1 on completion
    tokens except those overlapping a span whose role is in `roles`."""
    eos = tokenizer.eos_token or ""
    text = completion if completion.endswith(eos) else completion + eos
    prompt_ids = tokenizer(prompt)["input_ids"]
    full = tokenizer(prompt + text, return_offsets_mapping=True)
    ids, offsets = full["input_ids"], full["offset_mapping"]
    prompt_len = 0
    while prompt_len < min(len(prompt_ids), len(ids)) and prompt_ids[prompt_len] == ids[prompt_len]:
        prompt_len += 1
    shift = len(prompt)
    ranges = [(shift + int(s["start"]), shift + int(s["end"])) for s in spans if s["role"] in roles]
    mask = [0 if i < prompt_len or _overlaps(a, b, ranges) else 1 for i, (a, b) in enumerate(offsets)]
    return {"input_ids": list(ids), "completion_mask": mask}


def masked_dataset(dataset, tokenizer, roles: set[str]):
    """The prompt/completion/spans dataset pre-tokenized with masks (columns input_ids, completion_mask)."""
    if "spans" not in dataset.column_names:
        raise ValueError("train.mask_mistakes needs the exported `spans` column; re-run `journeyforge export`")
    return dataset.map(
        lambda row: tokenize_with_mask(tokenizer, row["prompt"], row["completion"], row["spans"] or [], roles),
        remove_columns=dataset.column_names, desc="masking mistakes")

