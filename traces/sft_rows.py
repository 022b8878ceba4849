"""SFT rows: one per trajectory, in the `messages` (chat) and `prompt`/`completion` (standard)
formats TRL's SFTTrainer takes as-is, with provenance columns; a trajectory that is not one
well-formed trace (one reasoning frame, then one final answer: traces/frames.py) is left out and
counted."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from datasets import DatasetDict, Features, List, Value

from search.tasks.base import Problem, Task
from traces.export_settings import ExportSettings
from traces.frames import frame_problem
from traces.problems import as_problem
from traces.splits import dataset_dict, split_problems

SFT_FEATURES = Features(
    {
        "messages": List({"role": Value("string"), "content": Value("string")}),
        "prompt": Value("string"),
        "completion": Value("string"),
        "kind": Value("string"),
        "tree_id": Value("int64"),
        "problem": Value("string"),
        "answer": Value("string"),
        "n_steps": Value("int32"),
        "n_backtracks": Value("int32"),
        "is_correct": Value("bool"),
        # Character spans of `completion` that are mistaken steps, reflections or checks (journeys):
        # what `train.mask_mistakes` / `train.mask_reflections` take out of the loss.
        "spans": List({"role": Value("string"), "start": Value("int32"), "end": Value("int32")}),
    }
)


def row_frame_problem(row: Mapping[str, Any], task: Task) -> str | None:
    """Why a trajectory row may not be exported (`frame_problem` of its text, then of its assistant
    message when that differs), or None."""
    problem = frame_problem(task, row.get("text"), row.get("answer"))
    messages = row.get("messages") or []
    content = messages[-1].get("content") if messages else None
    if problem is None and content is not None and content != row.get("text"):
        problem = frame_problem(task, content, row.get("answer"))
    return problem


def drop_malformed(rows: Iterable[Mapping[str, Any]], task: Task,
                   dropped: Counter | None = None) -> list[Mapping[str, Any]]:
    """The rows that are one well-formed trace each; the others are counted in `dropped` by
    category (`frame_problem`'s), never written."""
    kept = []
    for row in rows:
        problem = row_frame_problem(row, task)
        if problem is None:
            kept.append(row)
        elif dropped is not None:
            dropped[problem.split(":", 1)[0]] += 1
    return kept


def build_sft(
    rows: Iterable[Mapping[str, Any]],
    problems: Mapping[int, Problem | Mapping[str, Any]],
    task: Task,
    test_fraction: float = ExportSettings.test_fraction,
    seed: int = ExportSettings.seed,
    correct_only: bool = ExportSettings.correct_only,
    splits: Mapping[str, str] | None = None,
    dropped: Counter | None = None,
) -> DatasetDict:
    """SFT rows from trajectory rows; `problems` maps each row's `tree_id` to its problem.

    Columns: `messages` (user instructions + assistant trace), `prompt` (`task.question`) and
    `completion` (the trace), so `select_columns(["messages"])` or
    `select_columns(["prompt", "completion"])` goes straight into `trl.SFTTrainer`; plus
    provenance `kind, tree_id, problem, answer, n_steps, n_backtracks, is_correct`, and `spans`
    (the completion's mistake / reflection / check character spans, empty for shortcuts).
    `correct_only` drops trajectories whose final answer failed the verifier. `splits` (problem
    key -> "train"/"test", from `split_problems`) overrides the split computed from these rows.
    A row whose text is not one well-formed trace (`row_frame_problem`) is left out, counted by
    category in `dropped`.
    """
    out: list[dict] = []
    resolved: dict[int, Problem] = {}
    for row in sorted(rows, key=lambda r: (r["kind"], r["tree_id"], r.get("idx") or 0)):
        tree_id = row["tree_id"]
        where = f"trajectory {row.get('id')} (tree {tree_id}, kind {row['kind']!r})"
        if tree_id not in problems:
            raise KeyError(f"{where}: no problem given for tree {tree_id}")
        if tree_id not in resolved:
            resolved[tree_id] = as_problem(problems[tree_id], f"problem of tree {tree_id}")
        if correct_only and not row.get("is_correct"):
            continue
        if not row.get("text"):
            raise ValueError(f"{where} has an empty 'text'")
        if not drop_malformed([row], task, dropped):
            continue
        problem = resolved[tree_id]
        messages = row.get("messages") or [
            {"role": "user", "content": task.instructions(problem)},
            {"role": "assistant", "content": row["text"]},
        ]
        if messages[-1].get("role") != "assistant":
            raise ValueError(f"{where}: 'messages' must end with the assistant turn")
        out.append(
            {
                "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
                "prompt": task.question(problem),
                "completion": row["text"],
                "kind": row["kind"],
                "tree_id": tree_id,
                "problem": problem.key,
                "answer": row.get("answer"),
                "n_steps": row.get("n_steps") or 0,
                "n_backtracks": row.get("n_backtracks") or 0,
                "is_correct": bool(row.get("is_correct")),
                "spans": [{"role": sp["role"], "start": sp["start"], "end": sp["end"]}
                          for sp in row.get("spans") or []],
            }
        )
    splits = splits or split_problems(resolved.values(), test_fraction, seed)
    return dataset_dict(out, splits, SFT_FEATURES)


__all__ = ["SFT_FEATURES", "build_sft", "drop_malformed", "row_frame_problem"]
