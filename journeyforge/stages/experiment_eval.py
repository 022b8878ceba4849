"""The experiment's evaluation: every selected model answers the same held-out problems, and the
answers go to one eval run `<name>/experiment` under the model's label (stats: fingerprints and
seconds per label, so a stopped experiment resumes with the next model)."""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from journeyforge.components import build_policy
from journeyforge.stages.common import StageError, start_run
from journeyforge.stages.experiment_models import ExperimentParts, model_entry, model_label, model_seeds
from search.tasks.base import Problem
from training.eval_settings import EvalSettings
from training.answer_eval import evaluate_models

EVAL_RUN = "experiment"  # the eval run is `<name>/experiment`


def _fingerprint(adapter: str | None, samples: int, n_problems: int, max_tokens: int) -> str:
    """What an eval row set depends on: the adapter's training record and the eval settings."""
    from training.grpo import RECORD_FILE
    from training.sft import SETTINGS_FILE

    records = [Path(adapter) / f for f in (SETTINGS_FILE, RECORD_FILE)] if adapter else []
    record = "".join(r.read_text() for r in records if r.exists())
    return hashlib.sha256(json.dumps([record, samples, n_problems, max_tokens]).encode()).hexdigest()[:16]


def held_out(ev: EvalSettings, store, task) -> list[Problem]:
    """The held-out problems every model answers: the first `eval.n_problems` of split `test`."""
    rows = store.problems(dataset=task.dataset, split="test")[: ev.n_problems]
    if not rows:
        raise StageError(f"no held-out (split=test) problems of dataset {task.dataset!r} in the store")
    return [Problem.from_row(r) for r in rows]


def answer(cfg: DictConfig, ev: EvalSettings, task, problems: list[Problem], entry: tuple) -> list[dict]:
    """Every problem answered by the model of `entry` (`model_entry`), verified (`cfg`: the policy the
    model is loaded through)."""
    label, model, adapter, k, style = entry
    return evaluate_models([(label, model, adapter, style)], problems, task,
                           lambda m, a: build_policy(cfg, task, model=m, adapter=a),
                           max_tokens=ev.max_tokens, samples=k, temperature=ev.temperature,
                           top_p=ev.top_p, seed=ev.seed)


class EvalRecord:
    """The experiment's eval run: which models' answers are stored (by fingerprint) and how long
    each took, kept in the run's stats after every model so a stopped experiment resumes."""

    def __init__(self, cfg: DictConfig, parts: ExperimentParts, store, task, problems: list[Problem]):
        self.exp, self.ev, self.store, self.problems = parts.exp, parts.eval, store, problems
        self.run_id = start_run(store, cfg, "eval", name=f"{cfg.name}/{EVAL_RUN}")
        self.previous = (store.get_run(f"{cfg.name}/{EVAL_RUN}", "eval") or {}).get("stats") or {}
        self.prints = dict(self.previous.get("fingerprints") or {})
        self.seconds = dict(self.previous.get("seconds") or {})
        self.key_to_id = {r["key"]: r["id"] for r in store.problems(dataset=task.dataset, split="test")}

    def mark(self, entry: tuple) -> str:
        _, model, adapter, k, _ = entry
        return _fingerprint(adapter or (model if Path(model).is_dir() else None), k, len(self.problems),
                            self.ev.max_tokens)

    def is_stored(self, entry: tuple) -> bool:
        label = entry[0]
        if self.exp.force or self.prints.get(label) != self.mark(entry):
            return False
        if len(self.store.evals(self.run_id, label)) != len(self.problems):
            return False
        print(f"[experiment] {label}: {len(self.problems)} answers already stored (experiment.force=true redoes them)")
        return True

    def store_answers(self, entry: tuple, results: list[dict], seconds: float) -> None:
        label = entry[0]
        self.store.replace_evals(self.run_id, label, [
            {**{f: r[f] for f in ("prediction", "answer", "is_correct", "n_tokens")},
             "problem_id": self.key_to_id[r["problem_id"]], "samples": r.get("sample_rows")} for r in results])
        self.prints[label] = self.mark(entry)
        self.seconds[label] = round(seconds, 1)
        self.store.finish_run(self.run_id, "running", {**self.previous, "fingerprints": self.prints,
                                                       "seconds": self.seconds})

    def finish(self) -> dict[str, Any]:
        self.store.finish_run(self.run_id, "done", {**self.previous, "fingerprints": self.prints,
                                                    "seconds": self.seconds, "problems": len(self.problems)})
        return {"run_id": self.run_id, "problems": self.problems,
                "key_to_id": {p.key: self.key_to_id[p.key] for p in self.problems}}


def evaluate_arms(cfg: DictConfig, parts: ExperimentParts, store, task) -> dict[str, Any]:
    exp = parts.exp
    problems = held_out(parts.eval, store, task)
    entries = [model_entry(parts, name, seed) for name in exp.selected() for seed in model_seeds(exp, name)]
    record = EvalRecord(cfg, parts, store, task, problems)
    for entry in entries:
        if record.is_stored(entry):
            continue
        t0 = time.perf_counter()
        record.store_answers(entry, answer(cfg, parts.eval, task, problems, entry), time.perf_counter() - t0)
    return record.finish()


def stored_evaluation(cfg: DictConfig, parts: ExperimentParts, store, task) -> dict[str, Any]:
    """`evaluate_arms`' result read from the store (experiment.report_only): the eval run and its
    held-out problems, after checking that every selected arm and seed has an answer to each."""
    exp = parts.exp
    rows = store.problems(dataset=task.dataset, split="test")[: parts.eval.n_problems]
    run = store.get_run(f"{cfg.name}/{EVAL_RUN}", "eval")
    if run is None or not rows:
        raise StageError(f"experiment.report_only: no eval run {cfg.name}/{EVAL_RUN} with held-out problems of "
                         f"{task.dataset!r} in this store; run the experiment without report_only first")
    wanted = [model_label(name, seed) for name in exp.selected() for seed in model_seeds(exp, name)]
    ids = {r["id"] for r in rows}
    missing = [label for label in dict.fromkeys(wanted)
               if not ids <= {e["problem_id"] for e in store.evals(run["id"], label)}]
    if missing:
        raise StageError(f"experiment.report_only: eval run {cfg.name}/{EVAL_RUN} has no answers of "
                         f"{', '.join(missing)} to all {len(rows)} held-out problems; evaluate them first (the "
                         f"experiment without report_only) or narrow experiment.select / experiment.seeds")
    return {"run_id": run["id"], "problems": [Problem.from_row(r) for r in rows],
            "key_to_id": {r["key"]: r["id"] for r in rows}}


