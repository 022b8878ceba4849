"""What a dataset card states about where its data came from: the verifier and its version, the search
configuration, each step-label source with its measured quality where an exact oracle exists, the
contamination and duplicates found and removed, and what an accepted trajectory cost."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from db.stored_tree import StoredTree
from search.tasks.base import INVALID, ROOT, SOLUTION, WRONG_ANSWER, Task

SEARCH_KEYS = ("algorithm", "value", "expansions", "max_depth", "branching", "samples", "rollouts", "temperature",
               "max_tokens", "seed")


def verifier_of(task: Task) -> dict[str, str]:
    """The package whose code decides the task's `verify`, with its installed version."""
    package = task.verifier_package
    try:
        version = metadata.version(package)
    except metadata.PackageNotFoundError:
        version = "unknown (not installed as a package)"
    what = "the task's own exact checker" if package == "journeyforge" else f"{package}, called by the task"
    return {"task": task.name, "package": package, "version": version, "description": what}


def search_config(run_config: Mapping[str, Any]) -> dict[str, Any]:
    """The options of the run config that shaped the trees: the policy and the search."""
    policy = run_config.get("policy") or {}
    search = run_config.get("search") or {}
    shown: dict[str, Any] = {"policy": policy.get("name") or policy.get("backend")}
    if policy.get("model"):
        shown["policy.model"] = policy["model"]
    for key in SEARCH_KEYS:
        if search.get(key) is not None:
            shown[f"search.{key}"] = search[key]
    return {k: v for k, v in shown.items() if v is not None}


def label_quality(trees: Iterable[StoredTree], task: Task) -> dict[str, Any] | None:
    """Monte-Carlo step labels graded against the task's exact oracle (`Task.is_solvable`): precision and
    recall of calling a step a mistake (no rollout reached the answer, `mc_hard` 0) where the oracle says
    the goal is unreachable. None when no node has a Monte-Carlo label or the task has no oracle."""
    tp = fp = fn = tn = 0
    for tree in trees:
        for n in tree.graph:
            node = tree.node(n)
            if node.get("mc_hard") is None or node.get("state") is None:
                continue
            if node.get("label") in (ROOT, INVALID, SOLUTION, WRONG_ANSWER):
                continue   # labelled by the task itself (an illegal step, a verified answer)
            solvable = task.is_solvable(node["state"])
            if solvable is None:
                return None
            predicted, actual = node["mc_hard"] == 0, not solvable
            tp += predicted and actual
            fp += predicted and not actual
            fn += actual and not predicted
            tn += not predicted and not actual
    steps = tp + fp + fn + tn
    if not steps:
        return None
    return {"source": "mc", "against": "oracle", "steps": steps, "mistakes": tp + fn,
            "precision": round(tp / (tp + fp), 3) if tp + fp else None,
            "recall": round(tp / (tp + fn), 3) if tp + fn else None}


def cost_per_kind(cost: Mapping[str, Any] | None, solved_trees: int, accepted: Mapping[str, int]) -> dict[str, Any] | None:
    """The explore run's policy cost (`run_costs`) over each kind's accepted (exported) trajectories and
    over its solved trees. Every kind is read from the same trees, so each figure is the whole search's
    cost over that kind's rows. None without a cost row (a run stored before revision 0007)."""
    if cost is None:
        return None

    def per(value: Any, count: int) -> float | None:
        return round(value / count, 2) if value is not None and count else None

    totals = {k: cost.get(k) for k in ("prompt_tokens", "cached_prompt_tokens", "generated_tokens",
                                        "rollout_tokens", "policy_seconds", "gpu_seconds")}
    kinds = {kind: {"accepted": n,
                    "prompt_tokens_per_accepted": per(totals["prompt_tokens"], n),
                    "generated_tokens_per_accepted": per(totals["generated_tokens"], n),
                    "rollout_tokens_per_accepted": per(totals["rollout_tokens"], n),
                    "policy_seconds_per_accepted": per(totals["policy_seconds"], n),
                    "gpu_seconds_per_accepted": per(totals["gpu_seconds"], n)}
             for kind, n in sorted(accepted.items())}
    return {**totals, "solved_trees": solved_trees,
            "generated_tokens_per_solved_tree": per(totals["generated_tokens"], solved_trees),
            "policy_seconds_per_solved_tree": per(totals["policy_seconds"], solved_trees),
            "per_kind": kinds}


def _cost_lines(cost: Mapping[str, Any] | None) -> list[str]:
    if cost is None:
        return ["The explore run has no cost row (stored before journeyforge recorded costs).", ""]
    cached = f" ({cost['cached_prompt_tokens']:,} served from the prefix cache)" if cost.get("cached_prompt_tokens") else ""
    gpu = (f", {cost['gpu_seconds']:,} GPU-seconds of the modelled engine (`policy=simulated`)"
           if cost.get("gpu_seconds") is not None else "")
    lines = [f"The search spent {cost['prompt_tokens']:,} prompt tokens{cached}, {cost['generated_tokens']:,} "
             f"generated tokens ({cost['rollout_tokens']:,} of them in Monte-Carlo rollouts) and "
             f"{cost['policy_seconds']:,} policy seconds{gpu}; {cost['solved_trees']:,} trees were solved "
             f"({cost['generated_tokens_per_solved_tree']} generated tokens, {cost['policy_seconds_per_solved_tree']} "
             "policy seconds per solved tree). Per accepted (exported) trajectory of each kind, read from the "
             "same trees:", "",
             "| kind | accepted | prompt tokens / accepted | generated tokens / accepted | rollout tokens / accepted "
             "| policy seconds / accepted |" + (" GPU-seconds / accepted |" if gpu else ""),
             "|---|---:|---:|---:|---:|---:|" + ("---:|" if gpu else "")]
    for kind, k in cost["per_kind"].items():
        lines.append(f"| {kind} | {k['accepted']} | {k['prompt_tokens_per_accepted']} | "
                     f"{k['generated_tokens_per_accepted']} | {k['rollout_tokens_per_accepted']} | "
                     f"{k['policy_seconds_per_accepted']} |" + (f" {k['gpu_seconds_per_accepted']} |" if gpu else ""))
    return [*lines, ""]


def _contamination_lines(found: Mapping[str, Any]) -> list[str]:
    refs = ", ".join(f"{source} ({n:,})" for source, n in found.get("references", {}).items()) or "none"
    by_source = ", ".join(f"{source}: {n}" for source, n in found["by_source"].items()) or "none"
    kept = found["problems"] - found["removed"]
    lines = [f"Every training problem was compared with the held-out problems and the benchmark sets "
             f"({refs} problems) by canonical form where the task has one, else by normalised text "
             f"(exact, or one shared {found['ngram']}-word n-gram). **{found['problems']} contaminated "
             f"training problems** ({by_source}): {found['removed']} left out of every training split"
             + (f", {kept} kept (`export.keep_contaminated=true`)" if kept else "") + "."]
    if found.get("found_at_load"):
        lines.append(f"{found['found_at_load']} of them were held-out problems also given as training rows of "
                     "the problem file: they stayed held out and no tree was grown from them.")
    return [*lines, ""]


def _short(where: str) -> str:
    """`/home/me/data/problems.jsonl line 3` as `problems.jsonl line 3`: a card names no local folder."""
    head, sep, tail = where.rpartition(" line ") if " line " in where else where.rpartition(" row ")
    return f"{Path(head).name}{sep}{tail}" if sep else Path(where).name


def _duplicate_lines(duplicates: Mapping[str, Any] | None, repeated: Mapping[str, int]) -> list[str]:
    lines = []
    if duplicates:
        lines.append(f"**Duplicate problems**: {duplicates['rows_merged']} rows of the problem file repeated "
                     f"{duplicates['problems']} problems and were merged into their first row (same canonical "
                     "form or normalised text):")
        for group in duplicates["rows"][:20]:
            held = " (a held-out problem: it stayed held out)" if group.get("held_out") else ""
            lines.append(f"- `{group['problem']}`: kept {_short(group['kept'])}; merged "
                         f"{', '.join(map(_short, group['merged']))}{held}")
        if len(duplicates["rows"]) > 20:
            lines.append(f"- ... and {len(duplicates['rows']) - 20} more (export.json lists them all)")
    else:
        lines.append("**Duplicate problems**: none in the problem file.")
    total = sum(repeated.values())
    lines.append(f"**Duplicate trajectories** (same text for the same problem and kind), dropped: {total}"
                 + (" (" + ", ".join(f"{k}: {n}" for k, n in repeated.items()) + ")" if total else "") + ".")
    return [*lines, ""]


def provenance_section(facts: Mapping[str, Any]) -> str:
    """The card's `Provenance` section from an export's facts (export.json's `provenance`)."""
    verifier = facts["verifier"]
    lines = ["## Provenance", "",
             f"**Verifier**: {verifier['description']}: `{verifier['package']}` {verifier['version']} "
             f"(task `{verifier['task']}`).", "",
             "**Search**: " + (", ".join(f"`{k}={v}`" for k, v in facts["search"].items()) or "not recorded") + ".", "",
             "**Step labels**: " + facts["label_source"] + "."]
    if facts.get("stepwise_labels"):
        lines.append(f"The stepwise and PRM rows carry the `{facts['stepwise_labels']}` labels "
                     f"(`export.label_source`: {STEPWISE_SOURCES.get(facts['stepwise_labels'], 'see traces/label_sources.py')}).")
    quality = facts.get("label_quality")
    if quality:
        lines.append(f"Monte-Carlo labels against the exact oracle, {quality['steps']:,} steps "
                     f"({quality['mistakes']:,} real mistakes): precision {quality['precision']}, "
                     f"recall {quality['recall']} of calling a step a mistake.")
    lines.append("")
    lines += _contamination_lines(facts["contamination"])
    lines += _duplicate_lines(facts.get("duplicates"), facts.get("repeated_trajectories") or {})
    lines += ["### Cost", "", *_cost_lines(facts.get("cost"))]
    return "\n".join(lines).rstrip() + "\n"


# What each `export.label_source` puts in the stepwise and PRM rows (traces/label_sources.py).
STEPWISE_SOURCES = {"mc": "the labels the search stored", "oracle": "the task's exact oracle",
                    "judge": "an LLM judge's first-error labels from `journeyforge label`",
                    "consensus": "steps where the search's and the judge's labels agree; each path ends "
                                 "before the first step where they differ"}


def label_source(run_config: Mapping[str, Any], task: Task) -> str:
    """Where the step labels came from, in words: the search's value estimator."""
    value = (run_config.get("search") or {}).get("value") or task.default_value
    names = {"label": "the task's own labels (its exact oracle where it has one)",
             "rollout": "Monte-Carlo rollouts (a step no rollout rescues is a mistake; Math-Shepherd, OmegaPRM)",
             "prm": "a trained step scorer (PRM)", "heuristic": "the task's labels, ordered by a heuristic"}
    return f"`search.value={value}`: {names.get(value, value)}"


__all__ = ["cost_per_kind", "label_quality", "label_source", "provenance_section", "search_config", "verifier_of"]
