"""Everything the viewer shows, read from the trace store into plain JSON-ready dicts.

One explore run (by experiment name) is read tree by tree in chunks, so a run of many thousand trees
never holds more than one chunk of nodes in memory. The linearize, export and eval runs of the same
name are optional: the pages show what exists.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from db import TraceStore
from db.engine import mask_url
from traces.tree_view import best_solution_order, path_to, seq_of

# The `nodes` columns a page shows (token ids are left out: they are the bulk of a row and say
# nothing to a reader; `state` is shown through the task's own description of it).
NODE_FIELDS = ("id", "parent_id", "seq", "depth", "label", "text", "reason", "value", "visits", "logprob",
               "reward", "mc_value", "mc_hard", "count", "first_error", "finish_reason", "expansions")
ROLLOUT_FIELDS = ("idx", "text", "answer", "is_correct", "n_tokens", "finish_reason")
TRAJECTORY_FIELDS = ("kind", "idx", "text", "node_ids", "answer", "n_steps", "n_backtracks", "n_tokens",
                     "is_correct")
# Label order in tables and charts: the search's story from root to verdict; others follow by name.
LABEL_ORDER = ("root", "valid", "solution", "invalid", "dead_end", "wrong_answer")
# Step text kept per tree for the index's text search: bounded, so an index of 50,000 trees stays a
# file a browser loads in seconds.
SEARCH_CHARS = 4000
# Trees read from the store at once.
CHUNK = 200


@dataclass
class RunView:
    """The explore run being shown and what the other stages of its name stored."""

    name: str
    explore: dict
    linearize: dict | None
    export: dict | None
    eval: dict | None
    store_url: str
    task: Any = None
    """The run's Task (from its stored config), used to word problems and states; None: generic."""
    trees: list[dict] = field(default_factory=list)
    """The `trees` rows to show, each with its `problem`."""


def select_trees(store: TraceStore, run_id: int, ids: list[int] | None, solved: bool | None,
                 limit: int | None) -> list[dict]:
    """The run's trees filtered by ids, solved/unsolved and a count limit, by id."""
    trees = store.trees(run_id)
    if ids is not None:
        wanted = set(ids)
        unknown = sorted(wanted - {t["id"] for t in trees})
        if unknown:
            raise ValueError(f"view.trees: tree id(s) {unknown[:10]} are not trees of this run "
                             f"(its ids run {trees[0]['id']}..{trees[-1]['id']})" if trees else
                             f"view.trees: tree id(s) {unknown[:10]} are not trees of this run (it has none)")
        trees = [t for t in trees if t["id"] in wanted]
    if solved is not None:
        solved_ids = set(store.solved(run_id))
        trees = [t for t in trees if (t["id"] in solved_ids) == solved]
    return trees[:limit] if limit is not None else trees


def label_order(labels) -> list[str]:
    """Labels in LABEL_ORDER first, then any other label by name."""
    labels = set(labels)
    return [lab for lab in LABEL_ORDER if lab in labels] + sorted(labels - set(LABEL_ORDER))


def problem_text(task, problem: dict) -> str:
    """The problem as its task words it (the question the model was given), else its payload."""
    if task is not None:
        try:
            from search.tasks.base import Problem

            return task.question(Problem.from_row(problem))
        except Exception:  # noqa: BLE001 - a row the task cannot word is still shown, as data
            pass
    payload = problem.get("payload") or {}
    for key in ("question", "problem"):
        if isinstance(payload.get(key), str):
            return payload[key]
    return json.dumps(payload, ensure_ascii=False)


def _state_text(task, state) -> str | None:
    if state is None:
        return None
    if task is not None:
        try:
            text = task.describe_state(state)
            if text:
                return text
        except Exception:  # noqa: BLE001 - fall back to the stored state itself
            pass
    return json.dumps(state, ensure_ascii=False)


def _number(value) -> float | None:
    return None if value is None else round(float(value), 4)


def _node_row(attrs: dict, task) -> dict:
    row = {k: attrs.get(k) for k in NODE_FIELDS}
    for k in ("value", "logprob", "reward", "mc_value", "mc_hard"):
        row[k] = _number(row[k])
    row["first_error"] = bool(row["first_error"])
    row["state"] = _state_text(task, attrs.get("state"))
    return row


def highlighted_path(G: nx.DiGraph, trajectories: list[dict]) -> dict:
    """The path the tree page highlights: the stored shortcut (its node ids, root excluded, as the
    shortcut linearizer stores them), else the best solution's path, else nothing."""
    for t in trajectories:
        if t["kind"] == "shortcut":
            return {"node_ids": list(t["node_ids"]), "source": f"stored shortcut #{t['idx']}"}
    order = best_solution_order(G) if G.graph.get("root") is not None else []
    if order:
        return {"node_ids": path_to(G, order[0])[1:], "source": "best solution (no stored shortcut)"}
    return {"node_ids": [], "source": "no solution in this tree"}


def tree_page(G: nx.DiGraph, info: dict, rollouts: list[dict], trajectories: list[dict], task) -> dict:
    """Everything one tree page shows, as a JSON-ready dict."""
    nodes = sorted(G.nodes, key=lambda n: seq_of(G, n))
    by_node: dict[int, list[dict]] = defaultdict(list)
    for r in rollouts:
        by_node[r["node_id"]].append({k: r.get(k) for k in ROLLOUT_FIELDS})
    trajs = [{k: t.get(k) for k in TRAJECTORY_FIELDS} for t in trajectories]
    journey = next((t for t in trajs if t["kind"] == "journey"), None)
    problem = info["problem"]
    return {
        "id": info["id"],
        "status": info["status"],
        "problem": {"key": problem["key"], "dataset": problem["dataset"], "answer": problem.get("answer"),
                    "text": problem_text(task, problem)},
        "nodes": [_node_row(G.nodes[n], task) for n in nodes],
        "rollouts": {str(k): v for k, v in by_node.items()},
        "shortcut": highlighted_path(G, trajs),
        "journey": {"node_ids": list(journey["node_ids"]), "idx": journey["idx"]} if journey else None,
        "trajectories": trajs,
    }


def index_row(G: nx.DiGraph, info: dict, trajectories: list[dict], task) -> dict:
    """One row of the index table (counts, best value, and the text the search box looks in)."""
    labels = Counter(G.nodes[n]["label"] for n in G)
    steps = [G.nodes[n] for n in G if G.nodes[n].get("parent_id") is not None]
    values = [s["value"] for s in steps if s.get("value") is not None]
    text = "\n".join(dict.fromkeys((s.get("text") or "").strip() for s in steps))
    return {
        "id": info["id"],
        "key": info["problem"]["key"],
        "problem": problem_text(task, info["problem"]),
        "status": info["status"],
        "nodes": G.number_of_nodes(),
        "depth": max((s["depth"] for s in steps), default=0),
        "solved": labels.get("solution", 0) > 0,
        "labels": dict(labels),
        "best_value": _number(max(values)) if values else None,
        "trajectories": dict(Counter(t["kind"] for t in trajectories)),
        "steps": text[:SEARCH_CHARS],
    }


def iter_trees(store: TraceStore, view: RunView) -> Iterator[tuple[dict, nx.DiGraph, list[dict], list[dict]]]:
    """(tree row, graph, rollouts, trajectories) of every shown tree, read CHUNK trees at a time."""
    lin_id = view.linearize["id"] if view.linearize else None
    for start in range(0, len(view.trees), CHUNK):
        part = view.trees[start:start + CHUNK]
        ids = [t["id"] for t in part]
        graphs = store.tree_graphs(ids)
        trajs: dict[int, list[dict]] = defaultdict(list)
        if lin_id is not None:
            for t in store.trajectories(run_id=lin_id, tree_ids=ids):
                trajs[t["tree_id"]].append(t)
        for info in part:
            G = graphs[info["id"]]
            yield info, G, store.rollouts(tree_id=info["id"]), trajs[info["id"]]


def evals_summary(store: TraceStore, run: dict | None) -> list[dict]:
    """Accuracy per model of the eval run, or [] when there is none."""
    if run is None:
        return []
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in store.evals(run["id"]):
        c = per[r["model"]]
        c[0] += 1
        c[1] += int(bool(r["is_correct"]))
        c[2] += int(r.get("n_tokens") or 0)
    return [{"model": m, "problems": n, "correct": k, "accuracy": round(100 * k / n, 1) if n else 0.0,
             "mean_tokens": round(tok / n, 1) if n else 0.0} for m, (n, k, tok) in sorted(per.items())]


def export_summary(run: dict | None) -> dict | None:
    """The export run's folder, its configurations and stats table (export.json), or None."""
    if run is None or not (run.get("stats") or {}).get("dir"):
        return None
    out_dir = Path(run["stats"]["dir"])
    marker = out_dir / "export.json"
    summary = {"dir": str(out_dir), "configs": run["stats"].get("configs") or {}, "stats_table": None,
               "stats_png": str(out_dir / "stats.png") if (out_dir / "stats.png").is_file() else None}
    if marker.is_file():
        try:
            summary["stats_table"] = json.loads(marker.read_text(encoding="utf-8")).get("stats_table")
        except (OSError, ValueError):
            pass
    return summary


def store_label(url: str) -> str:
    return mask_url(url)
