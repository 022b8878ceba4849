"""What an export reads from the store to make its data publishable, and the facts it states: the
references training problems are checked against, the explore run's duplicates and cost, and the
`provenance` of export.json and the card (traces/card_provenance.py)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from db.stored_tree import StoredTree
from search.tasks.base import Problem, Task
from traces.card_provenance import cost_per_kind, label_quality, label_source, search_config, verifier_of
from traces.decontamination import Reference
from traces.export_checks import (Contamination, drop_repeated_trajectories, find_training_contamination,
                                  problem_references)
from traces.problems import as_problem
from traces.splits import split_problems
from traces.export_settings import ExportSettings


@dataclass
class PublishInputs:
    """What the store knows that the export's files do not: problems to decontaminate against (the
    run's held-out problems and the benchmarks), the problem file's duplicates and held-out copies (the
    explore run's `stats["duplicates"]`), the explore run's cost (`run_costs`) and solved trees, and
    problem ids by key (for the `contamination` table)."""

    references: list[Reference] = field(default_factory=list)
    duplicates: dict[str, Any] | None = None
    cost: dict[str, Any] | None = None
    solved_trees: int = 0
    problem_ids: dict[str, int] = field(default_factory=dict)


def store_inputs(store: Any, task: Task, linearize_run_id: int, benchmarks: list[Reference]) -> PublishInputs:
    """The PublishInputs of linearize run `linearize_run_id`'s export: its dataset's held-out problems,
    `benchmarks`, and its explore run's duplicates, cost and solved trees."""
    run = next((r for r in store.runs() if r["id"] == linearize_run_id), None)
    explore = store.get_run(run["name"], "explore") if run else None
    stored = store.problems(dataset=task.dataset)
    held_out = [Problem.from_row(p) for p in stored if p.get("split") == "test"]
    inputs = PublishInputs(references=[*problem_references(task, held_out), *benchmarks],
                           problem_ids={p["key"]: p["id"] for p in stored})
    if explore is not None:
        inputs.duplicates = (explore.get("stats") or {}).get("duplicates")
        cost = store.run_cost(explore["id"])
        inputs.cost = {k: v for k, v in cost.items() if k != "run_id"} if cost else None
        inputs.solved_trees = len(store.solved(explore["id"]))
    return inputs


def check_contamination(task: Task, problems: Mapping[Any, Problem], splits: Mapping[str, str],
                        rl_list: list[Problem] | None, rl_splits: Mapping[str, str] | None,
                        publish: PublishInputs, opts: ExportSettings) -> Contamination:
    """The training problems of the export (its trees' and the RL set's) that match a held-out or
    benchmark problem, or a problem of the export's own test split."""
    training = {p.key: p for p in problems.values() if splits.get(p.key) == "train"}
    test = {p.key: p for p in problems.values() if splits.get(p.key) == "test"}
    for p in rl_list or []:
        (training if (rl_splits or {}).get(p.key) == "train" else test).setdefault(p.key, p)
    references = [*publish.references, *problem_references(task, test.values())]
    at_load = [g for g in (publish.duplicates or {}).get("rows", []) if g.get("held_out")]
    return Contamination(
        matches=find_training_contamination(task, training, references, opts.decontaminate_ngram),
        problem_ids=dict(publish.problem_ids), removed=not opts.keep_contaminated, at_load=at_load,
        references=dict(sorted(Counter(r.source for r in references).items())), ngram=opts.decontaminate_ngram)


def leave_out(contamination: Contamination, trees: dict, problems: dict, rows: list, rl_list: list | None):
    """(trees, problems, rows, RL problems) without the contaminated training problems, unless the export
    keeps them (`export.keep_contaminated`): left out of every training split."""
    if not (contamination.removed and contamination.matches):
        return trees, problems, rows, rl_list
    bad = contamination.matches
    trees = {t: tree for t, tree in trees.items() if problems[t].key not in bad}
    rows = [r for r in rows if r["tree_id"] in trees]
    rl_list = [p for p in rl_list if p.key not in bad] if rl_list is not None else None
    return trees, {t: problems[t] for t in trees}, rows, rl_list


@dataclass
class Publishable:
    """What an export builds from: its trees, problems, trajectory rows and RL problems (with their
    split) after contaminated problems and repeated trajectories were left out, and what was found."""

    trees: dict
    problems: dict
    rows: list
    rl_list: list[Problem] | None
    rl_splits: dict[str, str] | None
    contamination: Contamination
    repeated: dict[str, int]


def publishable(task: Task, trees: dict, problems: dict, rows: list, splits: Mapping[str, str],
                rl_problems: Iterable[Any] | None, publish: PublishInputs, opts: ExportSettings) -> Publishable:
    """The export's inputs without contaminated training problems (unless kept) and repeated trajectories."""
    rl_list = rl_splits = None
    if rl_problems is not None:
        rl_list = [as_problem(p, "RL problem") for p in rl_problems]
        rl_splits = {**split_problems(rl_list, opts.test_fraction, opts.seed), **splits}
    contamination = check_contamination(task, problems, splits, rl_list, rl_splits, publish, opts)
    trees, problems, rows, rl_list = leave_out(contamination, trees, problems, rows, rl_list)
    rows, repeated = drop_repeated_trajectories(rows, {t: p.key for t, p in problems.items()})
    return Publishable(trees, problems, rows, rl_list, rl_splits, contamination, repeated)


def provenance_facts(task: Task, run_config: Mapping[str, Any], trees: Iterable[StoredTree], kept: "Publishable",
                     publish: PublishInputs, accepted: Mapping[str, int], stepwise_labels: str = "mc") -> dict[str, Any]:
    """export.json's `provenance`: verifier and version, search config, label source and its quality
    against the oracle, the source the stepwise and PRM rows carry (`export.label_source`),
    contamination, duplicates, and cost per accepted trajectory per kind."""
    return {
        "verifier": verifier_of(task),
        "search": search_config(run_config),
        "label_source": label_source(run_config, task),
        "stepwise_labels": stepwise_labels,
        "label_quality": label_quality(trees, task),
        "contamination": kept.contamination.summary(),
        "duplicates": publish.duplicates,
        "repeated_trajectories": dict(kept.repeated),
        "cost": cost_per_kind(publish.cost, publish.solved_trees, accepted),
    }


__all__ = ["Publishable", "PublishInputs", "check_contamination", "leave_out", "provenance_facts", "publishable",
           "store_inputs"]
