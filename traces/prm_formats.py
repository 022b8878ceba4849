"""The stepwise rows in the two formats other PRM trainers read, made from the `stepwise` export.

- `prm_shepherd`: Math-Shepherd's step-tagged text (Wang et al. 2024; the peiyi9979/Math-Shepherd
  dataset): `input` is the question and the steps, each followed by the tag " ки"; `label` is the same
  text with each tag replaced by "+" (a good step) or "-" (a mistake).
- `prm_openrlhf`: what OpenRLHF's `ProcessRewardDataset` reads with its defaults (`--input_key input
  --label_key value --placeholder_token ки --reward_tokens + -`): `input` as above and `value`, one
  "+" or "-" per placeholder.

Both keep `tree_id` and `problem`, and the stepwise split (by problem), so every format of one export
trains and tests on the same problems.
"""
from __future__ import annotations

from datasets import Dataset, DatasetDict, Features, List, Value

TAG = "ки"   # Math-Shepherd's step tag (a Cyrillic word that a model's text practically never holds)

SHEPHERD_FEATURES = Features({"input": Value("string"), "label": Value("string"), "tree_id": Value("int64"),
                              "problem": Value("string")})
OPENRLHF_FEATURES = Features({"input": Value("string"), "value": List(Value("string")), "tree_id": Value("int64"),
                              "problem": Value("string")})


def tagged(prompt: str, steps: list[str], marks: list[str] | None = None) -> str:
    """The question, then each step on its line followed by " <tag>" (or by its mark)."""
    marks = marks or [TAG] * len(steps)
    return prompt.rstrip("\n") + "\n" + "".join(f"{step} {mark}\n" for step, mark in zip(steps, marks))


def _signs(labels: list[bool]) -> list[str]:
    return ["+" if ok else "-" for ok in labels]


def _dataset(rows: list[dict], features: Features) -> Dataset:
    # By columns: an empty split (an export with no test problems) still carries the features.
    return Dataset.from_dict({k: [r[k] for r in rows] for k in features}, features=features)


def prm_formats(stepwise: DatasetDict) -> dict[str, DatasetDict]:
    """`prm_shepherd` and `prm_openrlhf` DatasetDicts with the splits of `stepwise`."""
    shepherd, openrlhf = {}, {}
    for split, rows in stepwise.items():
        sh, op = [], []
        for r in rows:
            steps = [s.replace(TAG, "").strip() for s in r["completions"]]  # a tag inside a step would shift labels
            sh.append({"input": tagged(r["prompt"], steps), "label": tagged(r["prompt"], steps, _signs(r["labels"])),
                       "tree_id": r["tree_id"], "problem": r["problem"]})
            op.append({"input": tagged(r["prompt"], steps), "value": _signs(r["labels"]),
                       "tree_id": r["tree_id"], "problem": r["problem"]})
        shepherd[split] = _dataset(sh, SHEPHERD_FEATURES)
        openrlhf[split] = _dataset(op, OPENRLHF_FEATURES)
    return {"prm_shepherd": DatasetDict(shepherd), "prm_openrlhf": DatasetDict(openrlhf)}
