"""The stepwise rows in the two formats other PRM trainers read, made from the `stepwise` export.

Both use Math-Shepherd's published layout (Wang et al. 2024; the peiyi9979/Math-Shepherd dataset):
`<question> Step 1: <step> ки\\nStep 2: <step> ки`, no newline at the end.

- `prm_shepherd`: Math-Shepherd's columns: `input` as above; `label`, the same text with each tag
  replaced by `+` (a good step) or `-` (a mistake); `task`, the task's name (Math-Shepherd's says
  GSM8K or MATH). OpenR's preprocessor (preprocess/src/preprocessors/math_shepherd.py) splits the
  question from the steps at the one `Step 1: `, the steps at every `Step <n>:`, cuts each step at
  its first `ки` and reads each label as the last character of its step.
- `prm_openrlhf`: what OpenRLHF's `ProcessRewardDataset` reads with `--input_key input --label_key
  value --placeholder_token <placeholder> --reward_tokens + -`: `input` in that layout with the
  placeholder in place of ` ки`, `value`, one `+` or `-` per step. The placeholder is one token of
  the tokenizer the PRM is trained with (traces/prm_placeholder.py).

So that those readers see exactly one step per tag and tags only where a step ends, a `ки` in the
question or in a step is removed and a `Step <n>:` there is written `step <n>:`. Both keep `tree_id`
and `problem`, and the stepwise split (by problem), so every format of one export trains and tests on
the same problems.
"""
from __future__ import annotations

import re
import shlex

from datasets import DatasetDict, Dataset, Features, List, Value

from traces.prm_placeholder import AUTO, NONE, SHEPHERD_TAG, Placeholder, PrmTokenizer, StepRow, choose_placeholder

TAG = SHEPHERD_TAG
STEP_HEADING = re.compile(r"Step (\d*):")   # OpenR splits steps at `Step \d*:` (digits optional)

SHEPHERD_FEATURES = Features({"input": Value("string"), "label": Value("string"), "task": Value("string"),
                              "tree_id": Value("int64"), "problem": Value("string")})
OPENRLHF_FEATURES = Features({"input": Value("string"), "value": List(Value("string")), "tree_id": Value("int64"),
                              "problem": Value("string")})


def plain_text(text: str) -> str:
    """`text` without Math-Shepherd's tag and with no `Step <n>:` heading of its own, stripped."""
    return STEP_HEADING.sub(r"step \1:", text.replace(TAG, "")).strip()


def tagged(question: str, steps: list[str], marks: list[str]) -> str:
    """Math-Shepherd's layout: the question, then `Step <i>: <step> <mark>` lines."""
    return f"{question} " + "\n".join(f"Step {i}: {step} {mark}" for i, (step, mark) in enumerate(zip(steps, marks), 1))


def _signs(labels: list[bool]) -> list[str]:
    return ["+" if ok else "-" for ok in labels]


def _dataset(rows: list[dict], features: Features) -> Dataset:
    # By columns: an empty split (an export with no test problems) still carries the features.
    return Dataset.from_dict({k: [r[k] for r in rows] for k in features}, features=features)


def _plain_rows(stepwise: DatasetDict) -> dict[str, list[dict]]:
    """Each split's rows as question, steps and signs, with the texts made safe for the layout."""
    return {split: [{"question": plain_text(r["prompt"]), "steps": [plain_text(s) for s in r["completions"]],
                     "signs": _signs(r["labels"]), "tree_id": r["tree_id"], "problem": r["problem"]} for r in rows]
            for split, rows in stepwise.items()}


def prm_formats(stepwise: DatasetDict, task_name: str, placeholder: str = AUTO,
                prm_tokenizer: PrmTokenizer | None = None) -> tuple[dict[str, DatasetDict], Placeholder | None]:
    """`prm_shepherd` and `prm_openrlhf` DatasetDicts with the splits of `stepwise`, and the placeholder
    of `prm_openrlhf` (`export.prm_placeholder`, checked against `prm_tokenizer` on every row); with
    `none`, `prm_shepherd` alone and no placeholder."""
    plain = _plain_rows(stepwise)
    every = [(split, r) for split, rows in plain.items() for r in rows]
    checked = [StepRow(f"{split} row of tree {r['tree_id']}", "\n".join([r["question"], *r["steps"]]), len(r["steps"]))
               for split, r in every]
    chosen = None if placeholder == NONE else choose_placeholder(
        placeholder, prm_tokenizer, checked,
        lambda token: [tagged(r["question"], r["steps"], [token] * len(r["steps"])) for _, r in every])
    shepherd, openrlhf = {}, {}
    for split, rows in plain.items():
        keys = [{"tree_id": r["tree_id"], "problem": r["problem"]} for r in rows]
        shepherd[split] = _dataset([{"input": tagged(r["question"], r["steps"], [TAG] * len(r["steps"])),
                                     "label": tagged(r["question"], r["steps"], r["signs"]), "task": task_name, **k}
                                    for r, k in zip(rows, keys)], SHEPHERD_FEATURES)
        if chosen is not None:
            openrlhf[split] = _dataset([{"input": tagged(r["question"], r["steps"], [chosen.text] * len(r["steps"])),
                                         "value": r["signs"], **k} for r, k in zip(rows, keys)], OPENRLHF_FEATURES)
    sets = {"prm_shepherd": DatasetDict(shepherd)}
    if chosen is not None:
        sets["prm_openrlhf"] = DatasetDict(openrlhf)
    return sets, chosen


def openrlhf_arguments(placeholder: Placeholder, path: str = "prm_openrlhf") -> str:
    """The arguments of OpenRLHF's `openrlhf.cli.train_prm` that read `prm_openrlhf` from `path`."""
    return (f"--dataset {path} --dataset_split train --eval_dataset {path} --eval_split test "
            f"--input_key input --label_key value --placeholder_token {shlex.quote(placeholder.text)} --reward_tokens + -")


__all__ = ["OPENRLHF_FEATURES", "SHEPHERD_FEATURES", "TAG", "openrlhf_arguments", "plain_text", "prm_formats", "tagged"]
