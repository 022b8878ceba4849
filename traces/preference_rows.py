"""Preference rows in TRL's format (`prompt`, `chosen`, `rejected`): a step on a solution path against
a sibling mistake, and with Monte-Carlo values any two siblings whose values differ enough."""
from __future__ import annotations

from collections.abc import Mapping

import networkx as nx
from datasets import DatasetDict, Features, Value

from db.stored_tree import StoredTree
from search.tasks.base import MISTAKE_LABELS, Task
from traces.export_settings import ExportSettings
from traces.problems import problem_of
from traces.splits import dataset_dict
from traces.stepwise_rows import step_value, tree_splits

PREFERENCE_FEATURES = Features(
    {
        "prompt": Value("string"),
        "chosen": Value("string"),
        "rejected": Value("string"),
        "rejected_label": Value("string"),
        "chosen_value": Value("float64"),
        "rejected_value": Value("float64"),
        "rejected_reason": Value("string"),
        "tree_id": Value("int64"),
        "problem": Value("string"),
    }
)


def _prompt_with_steps(question: str, steps: list[str], delimiter: str = "\n") -> str:
    sep = "" if question.endswith("\n") or not question else "\n"
    return question + sep + "".join(f"{s}{delimiter}" for s in steps)


def build_preference(
    graphs: Mapping[int, StoredTree | nx.DiGraph],
    task: Task,
    test_fraction: float = ExportSettings.test_fraction,
    seed: int = ExportSettings.seed,
    splits: Mapping[str, str] | None = None,
    margin: float = ExportSettings.preference_margin,
) -> DatasetDict:
    """TRL preference pairs between sibling steps: a step on a solution path (`chosen`) against a
    sibling mistake (`rejected`, label `invalid`, `dead_end` or `wrong_answer`); and, where the
    steps carry Monte-Carlo values, any two siblings whose values differ by at least `margin`
    (rStar-Math's step pairs use 0.5), the higher one chosen.

    `prompt` is `task.question` followed by the shared prefix of steps, each followed by the task's
    step delimiter, so `prompt + chosen` and `prompt + rejected` are the text the policy continued.
    Identical (prompt, chosen, rejected) triples are kept once.
    """
    rows, seen = [], set()
    for tree_id in sorted(graphs):
        tree = StoredTree.of(graphs[tree_id])
        problem = problem_of(tree)
        on_solution_path = tree.solved_nodes()
        question = task.question(problem)
        valued = any(tree.node(n).get("mc_value") is not None for n in tree.graph)
        parents = on_solution_path | ({n for n in tree.graph if tree.graph.out_degree(n) > 1} if valued else set())
        for parent in sorted(parents, key=tree.seq):
            kids = tree.children(parent)
            pairs = [(g, b) for g in kids if g in on_solution_path
                     for b in kids if tree.label(b) in MISTAKE_LABELS]
            if valued:
                pairs += [(g, b) for g in kids for b in kids
                          if step_value(tree.node(g)) - step_value(tree.node(b)) >= margin
                          and (g, b) not in pairs]
            if not pairs:
                continue
            prefix = tree.path(parent)[1:]
            prompt = _prompt_with_steps(question, [task.quote(tree.node(n).get("text")) for n in prefix],
                                        task.step_delimiter)
            for g, b in pairs:
                chosen, rejected = task.quote(tree.node(g).get("text")), task.quote(tree.node(b).get("text"))
                if (prompt, chosen, rejected) in seen or chosen == rejected or not chosen or not rejected:
                    continue
                seen.add((prompt, chosen, rejected))
                rows.append(
                    {
                        "prompt": prompt,
                        "chosen": chosen,
                        "rejected": rejected,
                        "rejected_label": tree.label(b),
                        "rejected_reason": tree.node(b).get("reason"),
                        "chosen_value": step_value(tree.node(g)),
                        "rejected_value": step_value(tree.node(b)),
                        "tree_id": tree_id,
                        "problem": problem.key,
                    }
                )
    return dataset_dict(rows, splits or tree_splits(graphs, test_fraction, seed), PREFERENCE_FEATURES)


__all__ = ["PREFERENCE_FEATURES", "build_preference"]
