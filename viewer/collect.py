"""Everything the viewer shows, read from the trace store into plain JSON-ready dicts.

One explore run (by experiment name) is read tree by tree in chunks, so a run of many thousand trees
never holds more than one chunk of nodes in memory. The linearize, export and eval runs of the same
name are optional: the pages show what exists. Every stored value goes through `viewer.clean.Cleaner`
first (a shared store is not trusted: a number column may hold text), so the pages get numbers where
they do arithmetic and texts where they show text.
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
from db.stored_tree import StoredTree
from viewer.clean import Cleaner

# The `nodes` columns a page shows (token ids are left out: they are the bulk of a row and say
# nothing to a reader; `state` is shown through the task's own description of it).
NODE_FIELDS = ("id", "parent_id", "seq", "depth", "label", "text", "reason", "value", "visits", "logprob",
               "reward", "mc_value", "mc_hard", "count", "first_error", "finish_reason", "expansions")
ROLLOUT_FIELDS = ("idx", "text", "answer", "is_correct", "n_tokens", "finish_reason")
TRAJECTORY_FIELDS = ("kind", "idx", "text", "node_ids", "answer", "n_steps", "n_backtracks", "n_tokens",
                     "is_correct")
# What the schema declares each shown column to be (db/models.py); `Cleaner` holds values to it.
NODE_INTS = ("parent_id", "seq", "depth", "visits", "count", "expansions")
NODE_REALS = ("value", "logprob", "reward", "mc_value", "mc_hard")
NODE_TEXTS = ("label", "text", "reason", "finish_reason")
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
    cleaner: Cleaner = field(default_factory=Cleaner)
    """Coerces what is read; counts the stored values that were not numbers where numbers belong."""


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

            text = task.question(Problem.from_row(problem))
            if isinstance(text, str):
                return text
        except Exception:  # noqa: BLE001 - a row the task cannot word is still shown, as data
            pass
    payload = problem.get("payload")
    if not isinstance(payload, dict):
        return json.dumps(payload, ensure_ascii=False, default=str)
    for key in ("question", "problem"):
        if isinstance(payload.get(key), str):
            return payload[key]
    return json.dumps(payload, ensure_ascii=False)


def _state_text(task, state) -> str | None:
    if state is None or isinstance(state, str):
        return state
    if task is not None:
        try:
            text = task.describe_state(state)
            if text and isinstance(text, str):
                return text
        except Exception:  # noqa: BLE001 - fall back to the stored state itself
            pass
    return json.dumps(state, ensure_ascii=False, default=str)


def _number(value) -> float | None:
    return None if value is None else round(float(value), 4)


def clean_graph(G: nx.DiGraph, cleaner: Cleaner) -> nx.DiGraph:
    """`G`'s node attributes held to the schema, in place: numbers or None, texts as str. A parent
    id no node of the tree has (text in `nodes.parent_id`, another tree's node) makes its node a
    root, and depths that are not numbers are counted from the root again."""
    G.remove_nodes_from([n for n in list(G) if "id" not in G.nodes[n]])  # ids only edges named
    for n in G:
        a = G.nodes[n]
        for k in NODE_INTS:
            a[k] = cleaner.integer(f"nodes.{k}", a.get(k))
        for k in NODE_REALS:
            a[k] = cleaner.real(f"nodes.{k}", a.get(k), digits=None)
        for k in NODE_TEXTS:
            a[k] = cleaner.text(a.get(k))
        a["label"], a["text"] = a["label"] or "", a["text"] or ""
        a["first_error"] = cleaner.flag("nodes.first_error", a.get("first_error"))
        if a["parent_id"] is not None and a["parent_id"] not in G:
            a["parent_id"] = None
    if any(G.nodes[n]["depth"] is None for n in G):
        root = G.graph.get("root")
        lengths = nx.single_source_shortest_path_length(G, root) if root in G else {}
        for n in G:
            if G.nodes[n]["depth"] is None:
                G.nodes[n]["depth"] = lengths.get(n, 0)
    return G


def clean_problem(problem: dict) -> dict:
    """A `problems` row's shown texts as str; a payload that is not a JSON object is shown as text."""
    text = Cleaner.text
    return {**problem, "key": text(problem.get("key")) or "", "dataset": text(problem.get("dataset")) or "",
            "answer": text(problem.get("answer"))}


def clean_rollout(row: dict, cleaner: Cleaner) -> dict:
    """A `rollouts` row's shown columns, held to the schema."""
    return {"node_id": cleaner.integer("rollouts.node_id", row.get("node_id")),
            "idx": cleaner.integer("rollouts.idx", row.get("idx")), "text": Cleaner.text(row.get("text")) or "",
            "answer": Cleaner.text(row.get("answer")),
            "is_correct": cleaner.flag("rollouts.is_correct", row.get("is_correct")),
            "n_tokens": cleaner.integer("rollouts.n_tokens", row.get("n_tokens")),
            "finish_reason": Cleaner.text(row.get("finish_reason"))}


def clean_trajectory(row: dict, cleaner: Cleaner) -> dict:
    """A `trajectories` row's shown columns (and its tree), held to the schema."""
    out = {"tree_id": row.get("tree_id"), "kind": Cleaner.text(row.get("kind")) or "",
           "text": Cleaner.text(row.get("text")) or "", "answer": Cleaner.text(row.get("answer")),
           "node_ids": cleaner.ints("trajectories.node_ids", row.get("node_ids")),
           "is_correct": cleaner.flag("trajectories.is_correct", row.get("is_correct"))}
    for k in ("idx", "n_steps", "n_backtracks", "n_tokens"):
        out[k] = cleaner.integer(f"trajectories.{k}", row.get(k))
    return out


def _node_row(attrs: dict, task) -> dict:
    row = {k: attrs.get(k) for k in NODE_FIELDS}
    for k in NODE_REALS:
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
    try:
        tree = StoredTree(G)
        order = tree.best_solutions() if tree.has_root else []
        if order:
            return {"node_ids": tree.path(order[0])[1:], "source": "best solution (no stored shortcut)"}
    except nx.NetworkXException:  # a solution cut off from the root (parent ids a store got wrong)
        pass
    return {"node_ids": [], "source": "no solution in this tree"}


def tree_page(G: nx.DiGraph, info: dict, rollouts: list[dict], trajectories: list[dict], task) -> dict:
    """Everything one tree page shows, as a JSON-ready dict."""
    nodes = StoredTree(G).ordered_nodes()
    by_node: dict[int, list[dict]] = defaultdict(list)
    for r in rollouts:
        by_node[r["node_id"]].append({k: r.get(k) for k in ROLLOUT_FIELDS})
    trajs = [{k: t.get(k) for k in TRAJECTORY_FIELDS} for t in trajectories]
    journey = next((t for t in trajs if t["kind"] == "journey"), None)
    problem = clean_problem(info["problem"])
    return {
        "id": info["id"],
        "status": Cleaner.text(info["status"]),
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
    problem = clean_problem(info["problem"])
    return {
        "id": info["id"],
        "key": problem["key"],
        "problem": problem_text(task, problem),
        "status": Cleaner.text(info["status"]),
        "nodes": G.number_of_nodes(),
        "depth": max((s["depth"] for s in steps), default=0),
        "solved": labels.get("solution", 0) > 0,
        "labels": dict(labels),
        "best_value": _number(max(values)) if values else None,
        "trajectories": dict(Counter(t["kind"] for t in trajectories)),
        "steps": text[:SEARCH_CHARS],
    }


def iter_trees(store: TraceStore, trees: list[dict], lin_id: int | None,
               cleaner: Cleaner) -> Iterator[tuple[dict, nx.DiGraph, list[dict], list[dict]]]:
    """(tree row, graph, rollouts, trajectories) of each of `trees` (`trees` rows), read CHUNK trees at
    a time; the trajectories are linearize run `lin_id`'s (none when it is None)."""
    for start in range(0, len(trees), CHUNK):
        part = trees[start:start + CHUNK]
        ids = [t["id"] for t in part]
        graphs = store.tree_graphs(ids)
        trajs: dict[int, list[dict]] = defaultdict(list)
        if lin_id is not None:
            for t in store.trajectories(run_id=lin_id, tree_ids=ids):
                trajs[t["tree_id"]].append(clean_trajectory(t, cleaner))
        for info in part:
            G = clean_graph(graphs[info["id"]], cleaner)
            rollouts = [clean_rollout(r, cleaner) for r in store.rollouts(tree_id=info["id"])]
            yield info, G, rollouts, trajs[info["id"]]


def evals_summary(store: TraceStore, run: dict | None, cleaner: Cleaner | None = None) -> list[dict]:
    """Accuracy per model of the eval run, or [] when there is none."""
    if run is None:
        return []
    cleaner = cleaner or Cleaner()
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in store.evals(run["id"]):
        c = per[Cleaner.text(r["model"]) or ""]
        c[0] += 1
        c[1] += int(cleaner.flag("evals.is_correct", r["is_correct"]))
        c[2] += cleaner.integer("evals.n_tokens", r.get("n_tokens")) or 0
    return [{"model": m, "problems": n, "correct": k, "accuracy": round(100 * k / n, 1) if n else 0.0,
             "mean_tokens": round(tok / n, 1) if n else 0.0} for m, (n, k, tok) in sorted(per.items())]


def _export_configs(configs, cleaner: Cleaner) -> dict[str, dict[str, int | None]]:
    """{configuration: {split: rows}} from an export run's stats; other shapes are left out."""
    if not isinstance(configs, dict):
        return {}
    return {Cleaner.text(name): {Cleaner.text(split): cleaner.integer("runs.stats.configs", rows)
                                 for split, rows in splits.items()}
            for name, splits in configs.items() if isinstance(splits, dict)}


def export_summary(run: dict | None, cleaner: Cleaner | None = None) -> dict | None:
    """The export run's folder, its configurations and stats table (export.json), or None."""
    stats = (run or {}).get("stats")
    if not isinstance(stats, dict) or not isinstance(stats.get("dir"), str) or not stats["dir"]:
        return None
    cleaner = cleaner or Cleaner()
    out_dir = Path(stats["dir"])
    marker = out_dir / "export.json"
    summary = {"dir": str(out_dir), "configs": _export_configs(stats.get("configs"), cleaner), "stats_table": None,
               "stats_png": str(out_dir / "stats.png") if (out_dir / "stats.png").is_file() else None}
    if marker.is_file():
        try:
            table = json.loads(marker.read_text(encoding="utf-8")).get("stats_table")
            summary["stats_table"] = table if isinstance(table, str) else None
        except (OSError, ValueError, AttributeError):
            pass
    return summary


def store_label(url: str) -> str:
    return mask_url(url)
