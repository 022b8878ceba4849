"""RL prompt sets: the run's training problems as prompts with gold answers, for GRPO-style trainers.

Two layouts of the same problems and the same train/test split as the SFT configurations:
- `rl/` (a `DatasetDict`): `prompt` (the bare question, as the SFT `prompt` column), `answer` (the gold
  answer), `problem` (its key), `payload` (the problem's fields as JSON, what the verifier needs),
  `data_source`; TRL's `GRPOTrainer` takes it with `training.rewards.reward_functions(task)`.
- `verl/{train,test}.parquet` in verl's RL layout (`data_source`, `prompt` as chat messages, `ability`,
  `reward_model` = {`style`: `rule`, `ground_truth`}, `extra_info`), and `verl/reward.py`, whose
  `compute_score(data_source, solution_str, ground_truth, extra_info=None)` wraps the task's verifier
  (verl's `custom_reward_function.path`).

Rows come from problems only (no trees), so problems no search solved are in it: they are the ones
RL can still learn from.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from datasets import Dataset, DatasetDict, Features, Value

from search.tasks.base import Problem, Task

RL_FEATURES = Features(
    {
        "prompt": Value("string"),
        "answer": Value("string"),
        "problem": Value("string"),
        "payload": Value("string"),
        "data_source": Value("string"),
    }
)
VERL_DIR = "verl"
VERL_REWARD = "reward.py"

REWARD_MODULE = '''\
"""verl reward function for this journeyforge export (task {task!r}): the task's own verifier.

    python -m verl.trainer.main_ppo data.train_files=EXPORT/verl/train.parquet data.val_files=EXPORT/verl/test.parquet \\
        custom_reward_function.path=EXPORT/verl/{module} custom_reward_function.name=compute_score ...

Needs journeyforge importable in verl's environment (`pip install` its repository). Scores use the
{scheme!r} scheme of training/rewards.py: {scheme_text}
"""
import json

from training.rewards import verl_compute_score

TASK = json.loads({task_json!r})
SCHEME = {scheme!r}
FORMAT_WEIGHT = {format_weight!r}


def compute_score(data_source, solution_str, ground_truth, extra_info=None):
    """The reward of one response: `ground_truth` is the gold answer, `extra_info["payload"]` the problem's fields."""
    return verl_compute_score(TASK, solution_str, ground_truth, extra_info, SCHEME, FORMAT_WEIGHT)
'''
SCHEME_TEXT = {
    "sum": "1 for a verified answer, plus FORMAT_WEIGHT for the <think> frame with one final answer.",
    "tinyzero": "1 for a verified answer, 0.1 for a well-formed wrong one, 0 otherwise (TinyZero).",
}


def data_source(task: Task) -> str:
    """verl's `data_source` of a task's rows (routes rewards in verl; ours is named so no built-in claims it)."""
    return f"journeyforge/{task.dataset}"


def build_rl_prompts(problems: Iterable[Problem], task: Task, splits: Mapping[str, str]) -> DatasetDict:
    """The `rl` configuration: one row per problem (held-out `split=test` problems excluded), in the
    train/test split `splits` gives each problem key."""
    parts: dict[str, list[dict[str, Any]]] = {"train": [], "test": []}
    seen = set()
    for problem in problems:
        if problem.split == "test" or problem.key in seen:
            continue
        seen.add(problem.key)
        if problem.key not in splits:
            raise KeyError(f"problem {problem.key!r} has no train/test split assigned")
        parts[splits[problem.key]].append({
            "prompt": task.question(problem),
            "answer": problem.answer,
            "problem": problem.key,
            "payload": json.dumps(problem.payload, sort_keys=True),
            "data_source": data_source(task),
        })
    return DatasetDict({name: Dataset.from_dict({c: [r[c] for r in rows] for c in RL_FEATURES}, features=RL_FEATURES)
                        for name, rows in parts.items()})


def verl_rows(split: Dataset, task: Task, split_name: str) -> list[dict[str, Any]]:
    """verl's RL rows of one split of the `rl` configuration."""
    rows = []
    for i, row in enumerate(split):
        problem = Problem(key=row["problem"], payload=json.loads(row["payload"]), answer=row["answer"])
        rows.append({
            "data_source": row["data_source"],
            "prompt": [{"role": "user", "content": task.instructions(problem)}],
            "ability": task.name,
            "reward_model": {"style": "rule", "ground_truth": row["answer"] or ""},
            "extra_info": {"split": split_name, "index": i, "problem": row["problem"], "payload": row["payload"],
                           "task": task.name},
        })
    return rows


def write_verl(out_dir: str | Path, rl: DatasetDict, task: Task, task_config: Mapping[str, Any],
               scheme: str = "sum", format_weight: float = 0.1) -> dict[str, int]:
    """`train.parquet`, `test.parquet` and `reward.py` in `out_dir`; returns rows per split."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    schema = pa.schema([
        ("data_source", pa.string()),
        ("prompt", pa.list_(message)),
        ("ability", pa.string()),
        ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
        ("extra_info", pa.struct([("split", pa.string()), ("index", pa.int64()), ("problem", pa.string()),
                                  ("payload", pa.string()), ("task", pa.string())])),
    ])
    counts = {}
    for name, split in rl.items():
        rows = verl_rows(split, task, name)
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), out / f"{name}.parquet")
        counts[name] = len(rows)
    config = {k: v for k, v in dict(task_config).items() if not str(k).startswith("_")}
    (out / VERL_REWARD).write_text(REWARD_MODULE.format(
        task=task.name, module=VERL_REWARD, scheme=scheme, scheme_text=SCHEME_TEXT.get(scheme, ""),
        task_json=json.dumps(config, sort_keys=True, default=str), format_weight=float(format_weight)),
        encoding="utf-8")
    return counts
