"""Step labels graded against a task's exact oracle: precision and recall of "this step is a mistake"
for the search's stored labels (`mc`), a judge's and their consensus, each stored node counted once.

Two scopes: every non-root step, and only the steps Monte-Carlo rollouts estimated (`mc_value` set):
illegal steps and final answers are labelled by the rules and the verifier for every source alike,
and would otherwise flatter all of them.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from db.stored_tree import StoredTree
from search.tasks.base import Task
from traces.label_sources import mc_label, oracle_label

SOURCES_GRADED = ("mc", "judge", "consensus")
SCOPES = ("all steps", "mc-estimated steps")


def _predictions(attrs: Mapping[str, Any], judge: bool | None) -> dict[str, bool | None]:
    mc = mc_label(attrs)
    return {"mc": mc, "judge": judge, "consensus": mc if judge is not None and judge == mc else None}


def grade_against_oracle(graphs: Mapping[int, StoredTree], task: Task,
                         judged: Mapping[int, bool | None]) -> dict[str, dict[str, dict[str, Any]]]:
    """scope -> source -> {steps (labelled by the source), mistakes (the oracle's, among them), called
    (called a mistake), precision, recall, coverage (labelled / steps the oracle knows)}; a rate with a
    zero denominator is None. Sources with no labels (no judge run) are left out."""
    counts = {scope: {s: {"steps": 0, "mistakes": 0, "called": 0, "hits": 0, "known": 0} for s in SOURCES_GRADED}
              for scope in SCOPES}
    for tree in graphs.values():
        for node in tree.ordered_nodes():
            if node == tree.root:
                continue
            attrs = tree.node(node)
            truth = oracle_label(task, attrs)
            if truth is None:
                continue
            scopes = SCOPES if attrs.get("mc_value") is not None else SCOPES[:1]
            for source, said in _predictions(attrs, judged.get(node)).items():
                for scope in scopes:
                    c = counts[scope][source]
                    c["known"] += 1
                    if said is None:
                        continue
                    c["steps"] += 1
                    c["mistakes"] += not truth
                    c["called"] += not said
                    c["hits"] += (not said) and (not truth)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for scope, by_source in counts.items():
        out[scope] = {}
        for source, c in by_source.items():
            if c["steps"] == 0 and (source != "mc" or scope != SCOPES[0]):
                continue
            out[scope][source] = {"steps": c["steps"], "mistakes": c["mistakes"], "called": c["called"],
                                  "precision": c["hits"] / c["called"] if c["called"] else None,
                                  "recall": c["hits"] / c["mistakes"] if c["mistakes"] else None,
                                  "coverage": c["steps"] / c["known"] if c["known"] else None}
    return out


__all__ = ["SCOPES", "SOURCES_GRADED", "grade_against_oracle"]
