"""prm: train a step scorer on the run's stepwise export (or, with `prm.data=samples`, on the model's own
sampled answers: journeyforge/stages/prm_samples.py) and grade it on the held-out problems' paths.

Graded against the stored step labels and, for a task with an exact oracle (`Task.is_solvable`),
against the oracle, beside the stored labels themselves scored against the oracle (with
`search.value=rollout` those labels are Monte-Carlo estimates, so this says how noisy the PRM's own
teacher was).
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

from omegaconf import DictConfig

from analysis.tables import table
from journeyforge.components import build_task, store_of
from journeyforge.stages.common import (StageError, attempt_folder, check_explore_task, check_replaceable, require_run,
                                       start_run)
from journeyforge.stages.prm_samples import sampled_rows
from journeyforge.stages.run_parts import RunParts
from search.policies.default_model import resolve_model
from traces.label_sources import relabel_rows
from training.prm_settings import PRMSettings

COLUMNS = ("steps", "mistakes", "precision", "recall", "f1", "auc", "first_error_acc_error_paths",
           "first_error_acc_clean_paths", "first_error_f1")


def _stepwise(export: dict) -> dict:
    from datasets import load_from_disk

    folder = Path((export.get("stats") or {}).get("dir") or "") / "stepwise"
    if not folder.is_dir():
        raise StageError(f"export run {export['name']!r} has no stepwise dataset at {folder}: run "
                         f"`journeyforge export name={export['name']}` again")
    data = load_from_disk(str(folder))
    return {split: [dict(r) for r in data[split]] for split in data}


def _oracle_truth(store, task, rows: list[dict]) -> list[list[bool | None]] | None:
    """Per step of each row, the task's oracle: an invalid step is a mistake, a valid one is good when
    the target is still reachable from its state (`Task.is_solvable`); read from the stored tree's
    nodes. None when the task has no oracle."""
    graphs = store.tree_graphs(sorted({r["tree_id"] for r in rows}))
    truth, any_known = [], False
    for row in rows:
        graph = graphs.get(row["tree_id"])
        nodes = _path_nodes(graph, task, row["completions"]) if graph is not None else None
        steps: list[bool | None] = []
        for node in nodes or [None] * len(row["completions"]):
            if node is None:
                steps.append(None)
                continue
            known = False if node.get("label") == "invalid" else task.is_solvable(node.get("state") or {})
            any_known |= known is not None and node.get("label") != "invalid"
            steps.append(known)
        truth.append(steps)
    return truth if any_known else None


def _path_nodes(graph, task, steps: list[str]) -> list[dict] | None:
    """The stored nodes along the root path whose quoted step texts are `steps` (the export keeps no
    node ids; the first match in visit order is the path the row was made from)."""
    node, out = graph.graph["root"], []
    for step in steps:
        kids = [k for k in graph.successors(node) if task.quote(graph.nodes[k].get("text")) == step]
        if not kids:
            return None
        node = min(kids, key=lambda k: graph.nodes[k].get("seq", 0))
        out.append(graph.nodes[node])
    return out


def _fmt(value) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else (
        f"{value:.3f}" if isinstance(value, float) else str(value))


def _replace_file(path: Path, text: str) -> None:
    """Write `path` whole or not at all: a full disk leaves the old file as it was."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        partial.write_text(text)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _grade(store, task, scorer: Path, test_rows: list[dict], opts: PRMSettings, trained: dict) -> dict:
    """The scorer in `scorer` graded on the held-out paths against the stored labels and, for a task
    with an oracle, against the oracle (beside the stored labels themselves)."""
    from training.prm import grade, load_scorer, score_paths

    model, tokenizer = load_scorer(scorer)
    scores = score_paths(model, tokenizer, test_rows, max_length=max(opts.max_length, 1024))
    stored = [[bool(x) for x in r["labels"]] for r in test_rows]
    graded = {"prm vs stored labels": grade(scores, stored, opts.threshold)}
    oracle = _oracle_truth(store, task, test_rows) if all("tree_id" in r for r in test_rows) else None
    if oracle is not None:
        graded["prm vs oracle"] = grade(scores, oracle, opts.threshold)
        graded["stored labels vs oracle"] = grade([[1.0 if x else 0.0 for x in r] for r in stored], oracle, 0.5)
    return {"train": trained, "test_paths": len(test_rows), "threshold": opts.threshold, "graded": graded}


def run(cfg: DictConfig) -> dict:
    """Train and grade the step scorer of run `cfg.name`, every setting checked first (`run_with`)."""
    return run_with(RunParts.of(cfg))


def run_with(parts: RunParts) -> dict:
    """A step scorer trained on the stepwise export of run `parts.name`, graded on its held-out trees."""
    from training.prm import SCORER_FILE, train_prm

    cfg, opts = parts.cfg, parts.prm
    model_ref = resolve_model(opts.model)
    if opts.model.startswith(("/", ".", "~")) and not Path(model_ref).is_dir():
        raise StageError(f"prm.model={opts.model}: no such model directory")
    store = store_of(parts.store, create=opts.data == "samples")
    task = build_task(cfg)
    out = Path(opts.dir)
    check_replaceable(out, SCORER_FILE, "prm.dir")
    if opts.data == "samples":   # the model's own answers: no trees needed
        data, sampled = sampled_rows(store, parts, task, model_ref)
        source, more = f"the sampled answers of {cfg.name!r}", "sample more answers: prm.samples, task.n_train"
        stamp = {"samples": sampled}
    else:
        require_run(store, cfg.name, "explore", f"run `journeyforge explore name={cfg.name}` first")
        check_explore_task(store, cfg)
        export = require_run(store, cfg.name, "export", f"run `journeyforge export name={cfg.name}` first")
        data = _stepwise(export)
        if opts.label_source is not None:  # another source than the export chose (traces/label_sources.py)
            try:
                data = {split: relabel_rows(rows, opts.label_source) for split, rows in data.items()}
            except ValueError as err:
                raise StageError(f"prm.label_source={opts.label_source}: {err}") from None
        source, more = f"the stepwise export of {cfg.name!r}", "grow more trees: task.n_train, search.max_expansions"
        stamp = {"export_run": export["id"], "export_finished": str(export.get("finished_at"))}
    train_rows, test_rows = data.get("train", []), data.get("test", [])
    negatives = sum(not ok for r in train_rows for ok in r["labels"])
    positives = sum(ok for r in train_rows for ok in r["labels"])
    if not negatives or (opts.data == "samples" and not positives):
        raise StageError(f"{source} has {len(train_rows)} training paths, {positives} good and {negatives} "
                         f"mistaken steps: a step scorer needs both good and mistaken steps ({more})")
    if not test_rows:
        raise StageError(f"{source} has no test split to grade on: raise export.test_fraction")

    meta = out / SCORER_FILE
    stamp["settings"] = {k: getattr(opts, k) for k in ("model", "labels", "lora", "lora_r", "max_steps",
                                                       "batch_size", "learning_rate", "max_length", "seed")}
    if opts.label_source is not None:  # only then: scorers stamped before the option still count as fresh
        stamp["settings"]["label_source"] = opts.label_source
    previous = json.loads(meta.read_text()) if meta.is_file() else {}
    run_id = start_run(store, cfg, "prm")
    if not opts.force and previous.get("stamp") == stamp:
        print(f"[prm] scorer in {out} was trained with these settings on this data (prm.force=true retrains)")
        trained = previous["train"]
        metrics = _grade(store, task, out, test_rows, opts, trained)
        _replace_file(out / "metrics.json", json.dumps(metrics, indent=2, default=str))
    else:
        # A new scorer is trained and graded in a folder of its own, which replaces prm.dir only when
        # all of it succeeded: a failed attempt leaves the finished scorer and its metrics as they were.
        try:
            with attempt_folder(out, SCORER_FILE, "prm.dir") as work:
                trained = train_prm(train_rows, work, opts, model_ref,
                                    task={"name": cfg.task.name, "dataset": cfg.task.get("dataset")})
                written = json.loads((work / SCORER_FILE).read_text())
                (work / SCORER_FILE).write_text(json.dumps({**written, "stamp": stamp}, indent=2))
                metrics = _grade(store, task, work, test_rows, opts, trained)
                (work / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str))
        except OSError as err:  # a full disk: name prm.dir, not the attempt's folder
            if not err.strerror:
                raise
            kept = "the scorer already there is as it was" if previous else "nothing was written"
            raise StageError(f"prm.dir={out}: {err.strerror} while writing the scorer; {kept}: free space or "
                             "choose another prm.dir, then run prm again") from None
    store.finish_run(run_id, "done", {"dir": str(out), **metrics})
    graded = metrics["graded"]
    print(f"[prm] scorer {out}: {trained['paths']} training paths, {trained['scored_steps']} steps, "
          f"{trained['steps']} optimizer steps, loss {trained['first_loss']:.3f} -> {trained['last_loss']:.3f}, "
          f"{trained['seconds']} s")
    print(table(["graded", *COLUMNS], [[name, *[_fmt(g[c]) for c in COLUMNS]] for name, g in graded.items()],
                title=f"[prm] {len(test_rows)} held-out paths; a step is called a mistake below {opts.threshold}"))
    return {"run_id": run_id, "dir": str(out), **metrics}
