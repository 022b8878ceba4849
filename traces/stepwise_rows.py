"""Step-labelled rows in TRL's stepwise-supervision format (`prompt`, `completions`, `labels`): one
per distinct root-to-leaf path of each stored tree, with Monte-Carlo values where rollouts gave them.
`labels` come from one source (traces/label_sources.py: mc, oracle, judge, consensus); every source's
own labels ride along in `mc_labels`, `oracle_labels` and `judge_labels` (null where it has none), so
that `journeyforge prm` can choose another source from the same export."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import networkx as nx
from datasets import DatasetDict, Features, List, Value

from db.stored_tree import StoredTree
from search.tasks.base import SOLUTION, VALID, Task
from traces.export_settings import ExportSettings
from traces.label_sources import SOURCE_COLUMNS, path_source_labels, select_labels
from traces.problems import problem_of
from traces.splits import dataset_dict, split_problems

# TRL's stepwise-supervision format: prompt: str, completions: list[str], labels: list[bool].
STEPWISE_FEATURES = Features(
    {
        "prompt": Value("string"),
        "completions": List(Value("string")),
        "labels": List(Value("bool")),
        "values": List(Value("float64")),
        **{column: List(Value("bool")) for column in SOURCE_COLUMNS.values()},
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
    label_source: str = "mc",
    judged: Mapping[int, bool | None] | None = None,
) -> DatasetDict:
    """TRL stepwise supervision: one row per distinct root-to-leaf path of each tree.

    `prompt` is `task.question`, `completions` the step lines along the path, `labels` one bool
    per step: True for `valid`/`solution` steps, False for mistakes (`invalid`, `dead_end`,
    `wrong_answer`); with Monte-Carlo values that is the hard estimate (some rollout reached the
    answer, Math-Shepherd), and `values` keeps the soft one (`step_value`). With another
    `label_source` the labels are that source's (`judged`: node id -> the judge's label, None where
    its answer was unparsed), the row cut before the first step the source does not know.
    Paths whose prompt and steps repeat another's (merged samples in different trees of the same
    problem) are kept once.
    """
    rows, seen = [], set()
    for tree_id in sorted(graphs):
        tree = StoredTree.of(graphs[tree_id])
        problem = problem_of(tree)
        prompt = task.question(problem)
        oracle: dict[int, bool | None] = {}
        for path in tree.leaf_paths():
            attrs = [tree.node(n) for n in path]
            per_source = path_source_labels(path, attrs, task, judged, oracle)
            labels = select_labels(per_source, label_source)
            n = len(labels)
            steps = [task.quote(a.get("text")) for a in attrs[:n]]
            signature = (prompt, tuple(steps))
            if not n or signature in seen:
                continue
            seen.add(signature)
            rows.append({"prompt": prompt, "completions": steps, "labels": labels,
                         "values": [step_value(a) for a in attrs[:n]],
                         **{column: per_source[source][:n] for source, column in SOURCE_COLUMNS.items()},
                         "tree_id": tree_id, "problem": problem.key})
    return dataset_dict(rows, splits or tree_splits(graphs, test_fraction, seed), STEPWISE_FEATURES)


__all__ = ["STEPWISE_FEATURES", "build_stepwise", "step_value", "tree_splits"]
