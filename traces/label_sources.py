"""Which label a step carries in the stepwise export and in `journeyforge prm`: one source of several.

- `mc`: the label the search stored in `nodes` (Monte-Carlo rollouts where `search.value=rollout`,
  else the task's own rules, an exact solver where the task has one);
- `oracle`: the task's exact oracle (`Task.is_solvable`, where a task has one), computed from the stored
  state: an illegal step or a wrong final answer is a mistake, a legal one is good while the goal is
  still reachable;
- `judge`: an LLM judge's label from a `journeyforge label` run of the same name (`labels` rows);
- `consensus`: the step's MC and judge labels agree (Qwen's "Lessons of developing PRMs", arXiv
  2501.07301: consensus filtering of MC labels with a judge gives the best PRM data).

A step whose label under the chosen source is unknown (the judge's answer was unparsed, or MC and the
judge disagree) is left out of the row together with every step after it: a stepwise row is a path
prefix, and a later step's label is about the path up to it, so the row ends where the source stops
knowing. A path whose first step is unknown gives no row.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from search.tasks.base import INVALID, SOLUTION, VALID, WRONG_ANSWER, Task

LABEL_SOURCES = ("mc", "oracle", "judge", "consensus")
# Per-step label columns of the stepwise export (bool, null where a source has no label): what lets
# `journeyforge prm` choose a source from one export.
SOURCE_COLUMNS = {"mc": "mc_labels", "oracle": "oracle_labels", "judge": "judge_labels"}


def has_oracle(task: Task) -> bool:
    """Whether `task` has an exact oracle (overrides `Task.is_solvable`)."""
    return type(task).is_solvable is not Task.is_solvable


def check_label_source(source: str, option: str) -> None:
    """ValueError naming `option` unless `source` is one of LABEL_SOURCES."""
    if source not in LABEL_SOURCES:
        raise ValueError(f"{option}={source!r} is unknown; choose one of {', '.join(LABEL_SOURCES)}")


def mc_label(attrs: Mapping[str, Any]) -> bool:
    """The stored label: good for a `valid` or `solution` step, a mistake otherwise."""
    return attrs.get("label") in (VALID, SOLUTION)


def oracle_label(task: Task, attrs: Mapping[str, Any]) -> bool | None:
    """The task's exact oracle on a stored node; None where the task has none."""
    if not has_oracle(task):
        return None
    label = attrs.get("label")
    if label in (INVALID, WRONG_ANSWER):
        return False
    if label == SOLUTION:
        return True
    state = attrs.get("state")
    return task.is_solvable(state) if state else None   # a hand-made node without a state: unknown


def judge_labels(rows: Sequence[Mapping[str, Any]]) -> dict[int, bool | None]:
    """node id -> the judge's label (None for `unparsed`) from `labels` rows of source `judge`."""
    return {int(r["node_id"]): (None if r["label"] == "unparsed" else r["label"] == "good")
            for r in rows if r["source"] == "judge"}


def path_source_labels(ids: Sequence[int], nodes: Sequence[Mapping[str, Any]], task: Task,
                       judged: Mapping[int, bool | None] | None,
                       oracle_cache: dict[int, bool | None] | None = None) -> dict[str, list[bool | None]]:
    """Every source's per-step labels along a path of stored nodes (their ids and `nodes` columns).
    `oracle_cache` (node id -> oracle label) spares the solver the prefixes paths share."""
    judged = judged or {}
    cache = oracle_cache if oracle_cache is not None else {}
    for i, n in zip(ids, nodes):
        if i not in cache:
            cache[i] = oracle_label(task, n)
    return {"mc": [mc_label(n) for n in nodes],
            "oracle": [cache[i] for i in ids],
            "judge": [judged.get(i) for i in ids]}


def select_labels(per_source: Mapping[str, Sequence[bool | None]], source: str) -> list[bool]:
    """The labels of `source` along a path, cut before the first step it does not know (see the module
    docstring); `consensus` knows a step where MC and the judge both label it and agree."""
    if source == "consensus":
        chosen = [m if j is not None and m == j else None
                  for m, j in zip(per_source["mc"], per_source["judge"])]
    else:
        chosen = list(per_source[source])
    out: list[bool] = []
    for label in chosen:
        if label is None:
            break
        out.append(bool(label))
    return out


def stored_judge_labels(store: Any, name: str, source: str) -> dict[int, bool | None] | None:
    """The judge's labels (node id -> label, None where unparsed) of the `journeyforge label` run named
    `name`, when `source` needs them (`judge`, `consensus`); None for the other sources. ValueError
    naming export.label_source when that run is missing, unfinished or judged nothing."""
    if source not in ("judge", "consensus"):
        return None
    run = store.get_run(name, "label")
    rows = store.step_label_rows(run["id"], "judge") if run is not None else []
    if run is None or run.get("status") != "done" or not rows:
        why = ("has no label run" if run is None else f"has a label run that is {run.get('status')}"
               if run.get("status") != "done" else "has a label run without judge labels")
        raise ValueError(f"export.label_source={source}: experiment {name!r} {why}; run `journeyforge label "
                         f"name={name} label.sources=[judge]` first")
    return judge_labels(rows)


def relabel_rows(rows: Sequence[Mapping[str, Any]], source: str) -> list[dict[str, Any]]:
    """Stepwise rows (with the per-source columns) relabelled by `source` and cut as `select_labels`
    says; rows left with no step are dropped. Rows without those columns (an export made before them)
    are returned as they are for `mc`, and refused for any other source."""
    out = []
    for row in rows:
        if not all(c in row for c in SOURCE_COLUMNS.values()):
            if source != "mc":
                raise ValueError(f"the stepwise rows carry no per-source labels ({', '.join(SOURCE_COLUMNS.values())}): "
                                 "export again to choose a label source")
            out.append(dict(row))
            continue
        labels = select_labels({s: row[c] for s, c in SOURCE_COLUMNS.items()}, source)
        if not labels:
            continue
        n = len(labels)
        cut = {k: (v[:n] if isinstance(v, list) and len(v) == len(row["completions"]) else v) for k, v in row.items()}
        out.append({**cut, "labels": labels})
    return out


__all__ = ["LABEL_SOURCES", "SOURCE_COLUMNS", "check_label_source", "has_oracle", "judge_labels", "mc_label",
           "oracle_label", "path_source_labels", "relabel_rows", "select_labels", "stored_judge_labels"]
