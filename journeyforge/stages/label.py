"""label: step labels beside the search's own, stored in the `labels` table of the store.

`label.sources` chooses them: `judge` asks the stage's `policy` (any backend; a served model through
`policy=openai` is the usual judge) ProcessBench's question about every root-to-leaf path of the explore
run's trees (search/judge.py), many paths per batched call; `oracle` writes the task's exact oracle
(tasks with `Task.is_solvable`). Where the task has an oracle, the stored (MC) labels, the judge's and their
consensus are graded against it: precision and recall of "this step is a mistake".

Resuming: the labels of every tree finished in a call are stored in one transaction, so a run stopped
by a server failing later is marked `failed` (never left `running`) and the same command carries on
at the next tree. A finished run asked again with the same judge settings labels nothing again; with
changed ones it relabels every tree and writes the new labels in one transaction at the end, so a
failed attempt leaves the finished labels as they were.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from omegaconf import DictConfig, OmegaConf

from analysis.tables import table
from db.stored_tree import StoredTree
from journeyforge.components import build_policy, build_task, store_of, validate_config
from journeyforge.stages.common import StageError, check_task, require_run, start_run
from search.judge import JudgedPath, judge_paths, label_rows
from search.judge_settings import LabelSettings
from search.policies.openai_tokens import PROBE_TIMEOUT
from traces.label_grading import SCOPES, SOURCES_GRADED, grade_against_oracle
from traces.label_sources import has_oracle, judge_labels, oracle_label
from traces.problems import problem_of


def check_judge_server(policy: dict[str, Any]) -> None:
    """StageError (one line) when `policy=openai` and none of its servers answers `GET /models`, or
    none serves `policy.model`: the judge is checked before the run starts, not at its first call."""
    import requests

    if policy.get("backend") != "openai":
        return
    urls = policy.get("base_url")
    urls = [urls] if isinstance(urls, str) else list(urls or [])
    problems = []
    for url in urls:
        try:
            reply = requests.get(url.rstrip("/") + "/models", timeout=PROBE_TIMEOUT,
                                 headers={"Authorization": f"Bearer {policy.get('api_key') or 'EMPTY'}"})
            served = [m.get("id") for m in (reply.json().get("data") or [])] if reply.status_code == 200 else None
        except (requests.RequestException, ValueError, AttributeError) as exc:
            problems.append(f"{url} does not answer ({type(exc).__name__})")
            continue
        if served is None:
            problems.append(f"{url}/models answered HTTP {reply.status_code}")
        elif policy.get("model") in served:
            return
        else:
            problems.append(f"{url} serves {', '.join(map(str, served)) or 'no model'}, not {policy.get('model')!r}")
    raise StageError(f"policy.base_url: the judge server cannot be used: {'; '.join(problems) or 'no URL'}; "
                     "start it or point policy.base_url / policy.model at one that serves the judge")


def _fingerprint(cfg: DictConfig, opts: LabelSettings) -> str:
    """The judge's settings that change its answers (model, prompt, generation), hashed."""
    policy = OmegaConf.to_container(cfg.policy, resolve=True)
    # The model, not where it is served: a server restarted on another port answers as before.
    model = {k: policy.get(k) for k in ("backend", "model", "dtype", "revision", "gguf_file")}
    what = {"policy": model, "prompt": opts.template().template, "chat": opts.chat, "max_tokens": opts.max_tokens,
            "temperature": opts.temperature, "seed": cfg.get("seed")}
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:16]


def tree_paths(tree_id: int, tree: StoredTree, task) -> list[JudgedPath]:
    """The judge's view of every root-to-leaf path of one stored tree."""
    question = task.question(problem_of(tree))
    return [JudgedPath(tree_id, path, question, [task.quote(tree.node(n).get("text")) for n in path])
            for path in tree.leaf_paths()]


def _chunks(per_tree: dict[int, list[JudgedPath]], batch_size: int) -> Iterator[list[JudgedPath]]:
    """Whole trees' paths, about `batch_size` paths per chunk (a tree is never split)."""
    chunk: list[JudgedPath] = []
    for paths in per_tree.values():
        if chunk and len(chunk) + len(paths) > batch_size:
            yield chunk
            chunk = []
        chunk.extend(paths)
    if chunk:
        yield chunk


def _label_oracle(store, run_id: int, task, graphs: dict[int, StoredTree]) -> int:
    """Write the oracle's label of every non-root node, one transaction."""
    rows = []
    for t, tree in graphs.items():
        for n in tree.ordered_nodes():
            said = None if n == tree.root else oracle_label(task, tree.node(n))
            if said is not None:
                rows.append({"node_id": n, "tree_id": t, "source": "oracle", "score": None,
                             "detail": {"task": task.name}, "label": "good" if said else "mistake"})
    return store.add_labels(run_id, rows)


def _label_judge(store, run_id: int, cfg: DictConfig, opts: LabelSettings, task, graphs: dict[int, StoredTree],
                 finished: bool) -> dict[str, int]:
    """Judge the trees not judged yet with these settings; returns paths judged and unparsed."""
    stamp = _fingerprint(cfg, opts)
    done = {r["tree_id"] for r in store.step_label_rows(run_id, "judge")
            if (r.get("detail") or {}).get("fingerprint") == stamp}
    todo = {t: tree_paths(t, tree, task) for t, tree in graphs.items() if t not in done and tree.has_root}
    todo = {t: paths for t, paths in todo.items() if paths}
    counts = {"paths": 0, "unparsed": 0, "trees": len(todo)}
    if not todo:
        return counts
    policy = build_policy(cfg, task=task)
    model = str(cfg.policy.get("model") or cfg.policy.backend)
    held: list[dict] = []   # a finished run's new labels wait for the end (see the module docstring)
    try:
        for chunk in _chunks(todo, opts.batch_size):
            judge_paths(policy, opts, chunk, seed=int(cfg.get("seed") or 0))
            rows = label_rows(chunk, model)
            for row in rows:
                row["detail"]["fingerprint"] = stamp
            if finished:
                held.extend(rows)
            else:
                store.add_labels(run_id, rows)
            counts["paths"] += len(chunk)
            counts["unparsed"] += sum(p.first_error is None for p in chunk)
            print(f"[label] judged {counts['paths']} paths ({counts['unparsed']} unparsed)", flush=True)
    finally:
        policy.close()
    if held:
        store.add_labels(run_id, held)
    return counts


def run(cfg: DictConfig) -> dict:
    built = validate_config(cfg)
    opts = built["label"]
    task = build_task(cfg)
    if "oracle" in opts.sources and not has_oracle(task):
        raise StageError(f"label.sources: task {cfg.task.name} has no exact oracle; drop `oracle` from label.sources")
    if "judge" in opts.sources:
        check_judge_server(OmegaConf.to_container(cfg.policy, resolve=True))
    store = store_of(built["store"])
    explore = require_run(store, cfg.name, "explore", f"run `journeyforge explore name={cfg.name}` first")
    check_task(explore, cfg)
    previous = store.get_run(cfg.name, "label")
    run_id = start_run(store, cfg, "label")
    trees = store.trees(explore["id"])
    graphs = {t: StoredTree.of(g) for t, g in store.tree_graphs([tree["id"] for tree in trees]).items()}
    stats: dict[str, Any] = {"explore_run": explore["id"], "trees": len(graphs), "sources": list(opts.sources)}
    if "oracle" in opts.sources:
        stats["oracle_labels"] = _label_oracle(store, run_id, task, graphs)
    if "judge" in opts.sources:
        finished = previous is not None and previous.get("status") == "done"
        stats["judge"] = _label_judge(store, run_id, cfg, opts, task, graphs, finished)
    if has_oracle(task):
        judged = judge_labels(store.step_label_rows(run_id, "judge"))
        stats["graded"] = grade_against_oracle(graphs, task, judged)
    store.finish_run(run_id, "done", stats)
    _summary(cfg.name, stats)
    return {"run_id": run_id, **stats}


def _summary(name: str, stats: dict) -> None:
    judge = stats.get("judge")
    if judge:
        print(f"[label] {name}: {judge['paths']} paths of {judge['trees']} trees judged, {judge['unparsed']} answers "
              "outside the grammar (stored as unparsed)")
    graded = stats.get("graded")
    if graded:
        columns = ("steps", "mistakes", "called", "precision", "recall", "coverage")
        rows = [[scope, s, *(_fmt(graded[scope][s].get(c)) for c in columns)]
                for scope in SCOPES for s in SOURCES_GRADED if s in graded.get(scope, {})]
        print(table(["scope", "source", "steps", "oracle mistakes", "called mistake", "precision", "recall", "coverage"],
                    rows, title="[label] step labels against the exact oracle (a step called a mistake)"))


def _fmt(value) -> str:
    return "-" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value))
