"""Step-labelled rows in TRL's stepwise-supervision format (`prompt`, `completions`, `labels`): one
per distinct root-to-leaf path of each stored tree, with Monte-Carlo values where rollouts gave them."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import networkx as nx
from datasets import DatasetDict, Features, List, Value

from db.stored_tree import StoredTree
from search.tasks.base import SOLUTION, VALID, Task
from traces.export_settings import ExportSettings
from traces.problems import problem_of
from traces.splits import dataset_dict, split_problems

# TRL's stepwise-supervision format: prompt: str, completions: list[str], labels: list[bool].
STEPWISE_FEATURES = Features(
    {
        "prompt": Value("string"),
        "completions": List(Value("string")),
        "labels": List(Value("bool")),
        "values": List(Value("float64")),
        "tree_id": Value("int64"),
        "problem": Value("string"),
    }
)


def step_value(attrs: Mapping[str, Any]) -> float:
    """A step's value for labels and pairs: its Monte-Carlo value (soft) where rollouts gave one,
    else 1.0 for a legal step on the way (valid / solution) and 0.0 for a mistake."""
    if attrs.get("mc_value") is not None:
        return float(attrs["mc_value"])
    return 1.0 if attrs.get("label") in (VALID, SOLUTION) else 0.0


def tree_splits(trees: Mapping[int, StoredTree | nx.DiGraph], test_fraction: float, seed: int) -> dict[str, str]:
    """`split_problems` of the trees' problems."""
    return split_problems([problem_of(t) for t in trees.values()], test_fraction, seed)


def build_stepwise(
    graphs: Mapping[int, StoredTree | nx.DiGraph],
    task: Task,
    test_fraction: float = ExportSettings.test_fraction,
    seed: int = ExportSettings.seed,
    splits: Mapping[str, str] | None = None,
) -> DatasetDict:
    """TRL stepwise supervision: one row per distinct root-to-leaf path of each tree.

    `prompt` is `task.question`, `completions` the step lines along the path, `labels` one bool
    per step: True for `valid`/`solution` steps, False for mistakes (`invalid`, `dead_end`,
    `wrong_answer`); with Monte-Carlo values that is the hard estimate (some rollout reached the
    answer, Math-Shepherd), and `values` keeps the soft one (`step_value`).
    Paths whose prompt and steps repeat another's (merged samples in different trees of the same
    problem) are kept once.
    """
    rows, seen = [], set()
    for tree_id in sorted(graphs):
        tree = StoredTree.of(graphs[tree_id])
        problem = problem_of(tree)
        prompt = task.question(problem)
        for path in tree.leaf_paths():
            steps = [task.quote(tree.node(n).get("text")) for n in path]
            labels = [tree.label(n) in (VALID, SOLUTION) for n in path]
            values = [step_value(tree.node(n)) for n in path]
            signature = (prompt, tuple(steps))
            if signature in seen:
                continue
            seen.add(signature)
            rows.append({"prompt": prompt, "completions": steps, "labels": labels, "values": values,
                         "tree_id": tree_id, "problem": problem.key})
    return dataset_dict(rows, splits or tree_splits(graphs, test_fraction, seed), STEPWISE_FEATURES)


__all__ = ["STEPWISE_FEATURES", "build_stepwise", "step_value", "tree_splits"]
