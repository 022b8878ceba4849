"""experiment: does journey data beat shortcut data? Every step of the comparison, against one store.

explore (resumes) -> linearize every arm from the same trees, keep only trees every arm can use,
cut each arm to the same data budget -> one dataset per arm -> train every tuned arm with every
seed -> GRPO for the rl arms from their `init` arm's adapters -> answer the same held-out problems
with every model (greedy, plus sampled answers for the arms that need maj@k / pass@k) -> report
(analysis/report.py) from the stored answers.

Rows: linearize runs `<name>/<arm>`, train runs `<name>/<arm>-s<seed>` (rl runs for rl arms), one eval
run `<name>/experiment` whose `evals` (and `eval_samples`) hold every model's answers under the label
`<arm>/s<seed>` (`base` for the untuned model). A multirun job that trains some arms or seeds
(`experiment.select`, `experiment.seeds`) adds its rows to the same eval run, and each job's
report covers everything stored so far.
"""
from __future__ import annotations

import hashlib
import json
import random
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from analysis.tables import table
from journeyforge.components import build_policy, build_task, eval_settings, open_store, settings, validate_config
from journeyforge.experiment_settings import ExperimentSettings
from journeyforge.stages import explore
from journeyforge.stages.common import StageError, check_task, check_trees_task, start_run
from journeyforge.stages.train import train_adapter
from journeyforge.tokens import token_counter
from search.tasks.base import Problem
from training.config import SFTSettings
from training.evaluate import evaluate_models

EVAL_RUN = "experiment"  # the eval run is `<name>/experiment`


def experiment_settings(cfg: DictConfig) -> ExperimentSettings:
    exp = settings(ExperimentSettings, cfg.experiment, "experiment")
    exp.validate()
    return exp


def model_label(arm: str, seed: int | None) -> str:
    return arm if seed is None else f"{arm}/s{seed}"


@contextmanager
def _timed(times: dict[str, float], name: str):
    t0 = time.perf_counter()
    print(f"\n=== experiment: {name} ===")
    try:
        yield
    finally:
        times[name] = times.get(name, 0.0) + time.perf_counter() - t0


def _budget_order(rows: list[dict], seed: int) -> list[dict]:
    """Rows in the order a budget cut keeps them: every tree's first trajectory (trees in a seeded
    order), then every tree's second, ...: a cut keeps as many problems as it can."""
    trees = sorted({r["tree_id"] for r in rows})
    random.Random(seed).shuffle(trees)
    rank = {t: i for i, t in enumerate(trees)}
    return sorted(rows, key=lambda r: (r["idx"], rank[r["tree_id"]]))


def _arm_options(lin, name: str, arm) -> Any:
    """The arm's linearizer options: `linearize.<kind>` with the arm's own `linearize` on top."""
    import dataclasses

    from traces.options import as_config

    base = lin.kind_options(arm.kind)
    options = (as_config(type(base), {**dataclasses.asdict(base), **arm.linearize}) if base is not None
               else dict(arm.linearize))
    if getattr(options, "reflection", None) == "llm":
        raise StageError(f"experiment.arms.{name}: reflection=llm is not supported by the experiment yet; "
                         "run linearize with it and compare by hand")
    return options


def linearize_arms(cfg: DictConfig, exp: ExperimentSettings, store, task, explore_run: dict,
                   record: bool = True) -> dict[str, Any]:
    """Each tuned arm's trajectories from the same trees, cut to the budget, stored per arm (`record`:
    false computes them only, for a report written from the store)."""
    from db.stored_tree import load_trees
    from traces.linearize_batch import count_tokens_in, linearize_trees
    from traces.linearize_settings import LinearizeSettings

    count = token_counter(cfg)
    trees = store.trees(explore_run["id"])
    check_trees_task(explore_run, trees, task.dataset)
    trees = [t for t in trees if t["status"] == "done"]
    graphs = load_trees(store, [t["id"] for t in trees])
    lin = settings(LinearizeSettings, cfg.linearize, "linearize")
    arms = {name: (exp.arms[name].kind, _arm_options(lin, name, exp.arms[name])) for name in exp.tuned()}
    # Matched: only trees every arm can use, so every arm trains on the same problems.
    done = linearize_trees(graphs, task, arms, tokenizer=count, correct_only=True)
    per_arm = {name: {tid: count_tokens_in(per[name], count) for tid, per in done.rows.items() if per[name]}
               for name in arms}
    shared = done.shared()
    pooled = {name: _budget_order([r for tid in sorted(shared) for r in rows[tid]], cfg.seed)[:exp.max_examples]
              for name, rows in per_arm.items()}
    if per_arm and not shared:
        raise StageError(f"no tree gives a trajectory to every arm ({', '.join(per_arm)}): explore more problems "
                         f"(task.n_train) or a bigger budget (search.max_expansions)")
    budget = None
    if exp.budget == "examples" and pooled:
        budget = min(len(rows) for rows in pooled.values())
    elif exp.budget == "tokens" and pooled:
        budget = min(sum(r["n_tokens"] for r in rows) for rows in pooled.values())
    kept: dict[str, list[dict]] = {}
    for name, rows in pooled.items():
        ordered = rows  # already in the budget's order
        if exp.budget == "examples":
            ordered = ordered[:budget]
        elif exp.budget == "tokens":
            total, cut = 0, []
            for r in ordered:
                if total + r["n_tokens"] > budget:
                    continue
                cut.append(r)
                total += r["n_tokens"]
            ordered = cut
        kept[name] = ordered
        if not record:
            continue
        run_id = start_run(store, cfg, "linearize", name=f"{cfg.name}/{name}")
        by_tree: dict[int, list[dict]] = {}
        for r in ordered:
            by_tree.setdefault(r["tree_id"], []).append(r)
        for tid in graphs:
            rows = by_tree.get(tid, [])
            store.replace_trajectories(run_id, tid, exp.arms[name].kind,
                                       [{k: v for k, v in dict(r, idx=i).items() if k not in ("tree_id", "kind")}
                                        for i, r in enumerate(rows)])
        store.finish_run(run_id, "done", {"trajectories": len(ordered), "trees": len(by_tree),
                                          "tokens": sum(r["n_tokens"] for r in ordered),
                                          "backtracks": sum(r["n_backtracks"] for r in ordered)})
    return {"trees": len(graphs), "shared_trees": len(shared), "budget": exp.budget, "budget_value": budget,
            "max_examples": exp.max_examples,
            "rows": kept, "graphs": graphs}


def write_datasets(exp: ExperimentSettings, task, data: dict[str, Any]) -> dict[str, Path]:
    """One SFT dataset per tuned arm under `<experiment.dir>/data/<arm>` (every row in `train`)."""
    import datasets

    from traces.sft_rows import build_sft

    datasets.disable_progress_bars()
    problems = {tid: tree.problem for tid, tree in data["graphs"].items()}
    out = {}
    for name, rows in data["rows"].items():
        dd = build_sft(rows, problems, task, test_fraction=0.0, correct_only=True)
        path = Path(exp.dir) / "data" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        # Only `train`: an empty split saved to disk cannot be loaded back.
        datasets.DatasetDict({"train": dd["train"]}).save_to_disk(str(path))
        out[name] = path
    return out


def write_rl_prompts(cfg: DictConfig, exp: ExperimentSettings, task, store) -> Path:
    """The rl arms' prompt set, `<experiment.dir>/rl-prompts`: every explored training problem, solved
    or not (GRPO can learn where SFT had no example); held-out problems never enter it."""
    import datasets

    from journeyforge.stages.export import rl_problems
    from traces.problems import as_problem
    from traces.rl_prompts import build_rl_prompts

    problems = [as_problem(p, "RL problem") for p in rl_problems(store, cfg)]
    prompts = build_rl_prompts(problems, task, {p.key: "train" for p in problems})
    path = Path(exp.dir) / "rl-prompts"
    path.parent.mkdir(parents=True, exist_ok=True)
    datasets.DatasetDict({"train": prompts["train"]}).save_to_disk(str(path))
    return path


def _train_settings(cfg: DictConfig, arm_train: dict[str, Any], seed: int) -> tuple[SFTSettings, Path, bool]:
    node = OmegaConf.to_container(cfg.train, resolve=True)
    node.pop("kinds", None)
    out_root, force = Path(node.pop("dir")), node.pop("force", False)
    node.update(arm_train)
    node["seed"] = seed
    sft = settings(SFTSettings, node, "train")
    sft.validate()
    return sft, out_root, force


def train_arms(cfg: DictConfig, exp: ExperimentSettings, store, datasets: dict[str, Path]) -> dict[str, dict]:
    results = {}
    for name in (n for n in exp.selected() if n in datasets):
        for seed in exp.seeds:
            sft, out_root, force = _train_settings(cfg, exp.arms[name].train, seed)
            out = out_root / f"{name}-s{seed}"
            results[model_label(name, seed)] = train_adapter(store, cfg, datasets[name], out, sft, force,
                                                             f"{cfg.name}/{name}-s{seed}")
    return results


def _rl_settings(cfg: DictConfig, arm, seed: int):
    from training.rl_config import RLSettings

    node = OmegaConf.to_container(cfg.rl, resolve=True)
    node.update(arm.rl)
    node.update(init=arm.init, seed=seed)
    rl = settings(RLSettings, node, "rl")
    rl.validate()
    return rl


def rl_adapter_dir(cfg: DictConfig, name: str, seed: int) -> Path:
    return Path(cfg.rl.dir) / f"{name}-s{seed}"


def train_rl_arms(cfg: DictConfig, exp: ExperimentSettings, store, task, data_dir: Path) -> dict[str, dict]:
    """GRPO for every selected rl arm and seed, from its `init` arm's adapter of the same seed."""
    from journeyforge.stages.rl import train_rl_adapter
    from training.grpo import is_full_model, load_prompt_set, starting_point

    results = {}
    for name in (n for n in exp.selected() if n in exp.rl_arms()):
        arm = exp.arms[name]
        for seed in exp.seeds:
            _, out_root, _ = _train_settings(cfg, exp.arms[arm.init].train, seed)
            sft_dir = out_root / f"{arm.init}-s{seed}"
            if not (sft_dir / "adapter_config.json").exists() and not is_full_model(sft_dir):
                raise StageError(f"experiment.arms.{name}: no adapter {sft_dir} of arm {arm.init!r} (seed {seed}) to "
                                 f"start GRPO from; train that arm first (experiment.select includes it)")
            rl = _rl_settings(cfg, arm, seed)
            results[model_label(name, seed)] = train_rl_adapter(
                store, cfg, task, data_dir, load_prompt_set(data_dir), rl_adapter_dir(cfg, name, seed), rl,
                starting_point(rl, sft_dir), f"{cfg.name}/{name}-s{seed}")
    return results


def _fingerprint(adapter: str | None, samples: int, n_problems: int, max_tokens: int) -> str:
    """What an eval row set depends on: the adapter's training record and the eval settings."""
    from training.grpo import RECORD_FILE
    from training.sft import SETTINGS_FILE

    records = [Path(adapter) / f for f in (SETTINGS_FILE, RECORD_FILE)] if adapter else []
    record = "".join(r.read_text() for r in records if r.exists())
    return hashlib.sha256(json.dumps([record, samples, n_problems, max_tokens]).encode()).hexdigest()[:16]


def evaluate_arms(cfg: DictConfig, exp: ExperimentSettings, store, task) -> dict[str, Any]:
    ev = eval_settings(cfg)
    rows = store.problems(dataset=task.dataset, split="test")[: ev.n_problems]
    if not rows:
        raise StageError(f"no held-out (split=test) problems of dataset {task.dataset!r} in the store")
    problems = [Problem.from_row(r) for r in rows]
    key_to_id = {r["key"]: r["id"] for r in rows}
    models: list[tuple[str, str, str | None, int, str | None]] = []
    for name in exp.selected():
        arm = exp.arms[name]
        k = exp.samples if name in exp.sample_arms else 1
        if arm.kind == "base":
            models.append((name, cfg.train.model, None, k, None))
            continue
        if arm.kind == "rl":
            from training.grpo import read_rl_record

            for seed in exp.seeds:
                adapter = rl_adapter_dir(cfg, name, seed)
                record = read_rl_record(adapter)
                if record is None:
                    raise StageError(f"no GRPO adapter in {adapter}: the rl step of arm {name!r} did not run")
                if record.get("full_model"):  # GRPO trained a whole student: it is the model, no adapter
                    models.append((model_label(name, seed), str(adapter), None, k, record["prompt_style"]))
                else:
                    models.append((model_label(name, seed), record["base_model"], str(adapter), k, record["prompt_style"]))
            continue
        for seed in exp.seeds:
            _, out_root, _ = _train_settings(cfg, arm.train, seed)
            adapter = out_root / f"{name}-s{seed}"
            if (adapter / "adapter_config.json").exists():
                models.append((model_label(name, seed), cfg.train.model, str(adapter), k, None))
            elif (adapter / "config.json").exists():  # a full model (train.lora=false, train.scratch): no base
                models.append((model_label(name, seed), str(adapter), None, k, None))
            else:
                raise StageError(f"no adapter in {adapter}: the train step of arm {name!r} did not run")
    run_id = start_run(store, cfg, "eval", name=f"{cfg.name}/{EVAL_RUN}")
    previous = (store.get_run(f"{cfg.name}/{EVAL_RUN}", "eval") or {}).get("stats") or {}
    prints = dict(previous.get("fingerprints") or {})
    seconds = dict(previous.get("seconds") or {})
    for label, model, adapter, k, style in models:
        mark = _fingerprint(adapter or (model if Path(model).is_dir() else None), k, len(problems), ev.max_tokens)
        stored = store.evals(run_id, label)
        if not exp.force and prints.get(label) == mark and len(stored) == len(problems):
            print(f"[experiment] {label}: {len(stored)} answers already stored (experiment.force=true redoes them)")
            continue
        t0 = time.perf_counter()
        results = evaluate_models([(label, model, adapter, style)], problems, task,
                                  lambda m, a: build_policy(cfg, task, model=m, adapter=a),
                                  max_tokens=ev.max_tokens, samples=k, temperature=ev.temperature,
                                  top_p=ev.top_p, seed=ev.seed)
        store.replace_evals(run_id, label, [
            {**{f: r[f] for f in ("prediction", "answer", "is_correct", "n_tokens")},
             "problem_id": key_to_id[r["problem_id"]], "samples": r.get("sample_rows")} for r in results])
        prints[label] = mark
        seconds[label] = round(time.perf_counter() - t0, 1)
        # Recorded after every model, so a stopped experiment resumes with the next one.
        store.finish_run(run_id, "running", {**previous, "fingerprints": prints, "seconds": seconds})
    store.finish_run(run_id, "done", {**previous, "fingerprints": prints, "seconds": seconds,
                                      "problems": len(problems)})
    return {"run_id": run_id, "problems": problems, "key_to_id": key_to_id}


def stored_evaluation(cfg: DictConfig, exp: ExperimentSettings, store, task) -> dict[str, Any]:
    """`evaluate_arms`' result read from the store (experiment.report_only): the eval run and its
    held-out problems, after checking that every selected arm and seed has an answer to each."""
    ev = eval_settings(cfg)
    rows = store.problems(dataset=task.dataset, split="test")[: ev.n_problems]
    run = store.get_run(f"{cfg.name}/{EVAL_RUN}", "eval")
    if run is None or not rows:
        raise StageError(f"experiment.report_only: no eval run {cfg.name}/{EVAL_RUN} with held-out problems of "
                         f"{task.dataset!r} in this store; run the experiment without report_only first")
    wanted = [name if exp.arms[name].kind == "base" else model_label(name, seed)
              for name in exp.selected() for seed in ([None] if exp.arms[name].kind == "base" else exp.seeds)]
    ids = {r["id"] for r in rows}
    missing = [label for label in dict.fromkeys(wanted)
               if not ids <= {e["problem_id"] for e in store.evals(run["id"], label)}]
    if missing:
        raise StageError(f"experiment.report_only: eval run {cfg.name}/{EVAL_RUN} has no answers of "
                         f"{', '.join(missing)} to all {len(rows)} held-out problems; evaluate them first (the "
                         f"experiment without report_only) or narrow experiment.select / experiment.seeds")
    return {"run_id": run["id"], "problems": [Problem.from_row(r) for r in rows],
            "key_to_id": {r["key"]: r["id"] for r in rows}}


def report_from_store(cfg: DictConfig, exp: ExperimentSettings, store, task, explore_run: dict) -> dict:
    """experiment.report_only: the report of what is stored, writing no row and loading no model."""
    from analysis.report import write_report

    t0 = time.perf_counter()
    evaluated = stored_evaluation(cfg, exp, store, task)
    data = linearize_arms(cfg, exp, store, task, explore_run, record=False)
    report = write_report(cfg, exp, store, task, evaluated, data, {},
                          {"report (from the store)": time.perf_counter() - t0})
    print(report["text"])
    print(f"\n[experiment] report {report['path']} (from the stored rows; figures: "
          f"{', '.join(str(p) for p in report['figures'])})")
    return {"report": report, "trained": {}, "times": {}}


def run(cfg: DictConfig) -> dict:
    from analysis.report import write_report

    validate_config(cfg)
    exp = experiment_settings(cfg)
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    if exp.explore and not exp.report_only:
        with _timed(times, "explore"):
            try:
                explore.run(cfg, reuse_finished=True)
            except explore.ResumeRefused as err:  # e.g. unfinished trees of another policy than the evaluated one
                raise StageError(f"{err}; or experiment.explore=false to compare on its stored trees as they "
                                 "are") from None
    store = open_store(cfg)
    task = build_task(cfg)
    explore_run = store.get_run(cfg.name, "explore")
    if explore_run is None:
        raise StageError(f"no explore run named {cfg.name!r} in this store; run with experiment.explore=true")
    check_task(explore_run, cfg)
    if exp.report_only:
        return report_from_store(cfg, exp, store, task, explore_run)
    with _timed(times, "linearize"):
        data = linearize_arms(cfg, exp, store, task, explore_run)
        print(table(["arm", "kind", "examples", "trees", "tokens", "backtracks"],
                    [[n, exp.arms[n].kind, len(r), len({x['tree_id'] for x in r}), sum(x["n_tokens"] for x in r),
                      sum(x["n_backtracks"] for x in r)] for n, r in data["rows"].items()],
                    title=f"[experiment] matched data: {data['shared_trees']} of {data['trees']} trees usable by "
                          f"every arm; budget: equal {data['budget']}"))
    with _timed(times, "datasets"):
        datasets = write_datasets(exp, task, data)
    with _timed(times, "train"):
        trained = train_arms(cfg, exp, store, datasets)
    if exp.rl_arms():
        with _timed(times, "rl"):
            prompts = write_rl_prompts(cfg, exp, task, store)
            trained.update(train_rl_arms(cfg, exp, store, task, prompts))
    with _timed(times, "eval"):
        evaluated = evaluate_arms(cfg, exp, store, task)
    with _timed(times, "report"):
        times_so_far = {**times, "total": time.perf_counter() - t0}
        report = write_report(cfg, exp, store, task, evaluated, data, trained, times_so_far)
    print(report["text"])
    print(f"\n[experiment] report {report['path']} (figures: {', '.join(str(p) for p in report['figures'])})")
    return {"report": report, "trained": trained, "times": times}
