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

import random
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from analysis.tables import table
from journeyforge.components import build_task, store_of, validate_config
from journeyforge.experiment_settings import ExperimentSettings
from journeyforge.stages import explore
from journeyforge.stages.common import StageError, check_task, check_trees_task, open_store_read_only, start_run
from journeyforge.stages.experiment_eval import evaluate_arms, stored_evaluation
from journeyforge.stages.experiment_models import ExperimentParts, model_label, train_arm, train_rl_arm
from journeyforge.stages.run_parts import RunParts
from journeyforge.tokens import token_counter
from traces.linearize_settings import LinearizeSettings



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


def linearize_arms(cfg: DictConfig, exp: ExperimentSettings, lin: LinearizeSettings, store, task, explore_run: dict,
                   record: bool = True) -> dict[str, Any]:
    """Each tuned arm's trajectories from the same trees, cut to the budget, stored per arm (`record`:
    false computes them only, for a report written from the store)."""
    from db.stored_tree import load_trees
    from traces.linearize_batch import count_tokens_in, linearize_trees

    count = token_counter(cfg)
    trees = store.trees(explore_run["id"])
    check_trees_task(explore_run, trees, task.dataset)
    trees = [t for t in trees if t["status"] == "done"]
    graphs = load_trees(store, [t["id"] for t in trees])
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


def train_arms(cfg: DictConfig, parts: ExperimentParts, store, datasets: dict[str, Path]) -> dict[str, dict]:
    exp = parts.exp
    return {model_label(name, seed): train_arm(cfg, parts, store, datasets[name], name, seed)
            for name in exp.selected() if name in datasets for seed in exp.seeds}


def train_rl_arms(cfg: DictConfig, parts: ExperimentParts, store, task, data_dir: Path) -> dict[str, dict]:
    """GRPO for every selected rl arm and seed, from its `init` arm's adapter of the same seed."""
    exp = parts.exp
    return {model_label(name, seed): train_rl_arm(cfg, parts, store, task, data_dir, name, seed)
            for name in exp.selected() if name in exp.rl_arms() for seed in exp.seeds}


def report_from_store(cfg: DictConfig, parts: ExperimentParts, store, task, explore_run: dict) -> dict:
    """experiment.report_only: the report of what is stored, writing no row and loading no model."""
    from analysis.report import write_report

    exp = parts.exp
    t0 = time.perf_counter()
    evaluated = stored_evaluation(cfg, parts, store, task)
    data = linearize_arms(cfg, exp, parts.linearize, store, task, explore_run, record=False)
    report = write_report(cfg, exp, store, task, evaluated, data, {},
                          {"report (from the store)": time.perf_counter() - t0})
    print(report["text"])
    print(f"\n[experiment] report {report['path']} (from the stored rows; figures: "
          f"{', '.join(str(p) for p in report['figures'])})")
    return {"report": report, "trained": {}, "times": {}}


def run(cfg: DictConfig) -> dict:
    from analysis.report import write_report

    built = validate_config(cfg)
    parts = ExperimentParts.of(cfg, built)  # every settings object the steps below hand on, built once
    stages = RunParts.made(cfg, built)
    exp = parts.exp
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    if exp.explore and not exp.report_only:
        with _timed(times, "explore"):
            try:
                explore.run_with(stages, reuse_finished=True)
            except explore.ResumeRefused as err:  # e.g. unfinished trees of another policy than the evaluated one
                raise StageError(f"{err}; or experiment.explore=false to compare on its stored trees as they "
                                 "are") from None
    # experiment.report_only writes no row: its store is opened read-only (journeyforge/stages/common.py).
    store = open_store_read_only(stages.store) if exp.report_only else store_of(stages.store)
    task = build_task(cfg)
    explore_run = store.get_run(cfg.name, "explore")
    if explore_run is None:
        raise StageError(f"no explore run named {cfg.name!r} in this store; run with experiment.explore=true")
    check_task(explore_run, cfg)
    if exp.report_only:
        return report_from_store(cfg, parts, store, task, explore_run)
    with _timed(times, "linearize"):
        data = linearize_arms(cfg, exp, parts.linearize, store, task, explore_run)
        print(table(["arm", "kind", "examples", "trees", "tokens", "backtracks"],
                    [[n, exp.arms[n].kind, len(r), len({x['tree_id'] for x in r}), sum(x["n_tokens"] for x in r),
                      sum(x["n_backtracks"] for x in r)] for n, r in data["rows"].items()],
                    title=f"[experiment] matched data: {data['shared_trees']} of {data['trees']} trees usable by "
                          f"every arm; budget: equal {data['budget']}"))
    with _timed(times, "datasets"):
        datasets = write_datasets(exp, task, data)
    if exp.jobs > 1:
        from journeyforge.stages.experiment_jobs import run_jobs

        with _timed(times, "train, rl and eval (parallel jobs)"):
            paths = dict(datasets)
            if exp.rl_arms():
                paths["rl-prompts"] = write_rl_prompts(cfg, exp, task, store)
            trained, evaluated = run_jobs(cfg, parts, store, task, data, paths)
    else:
        with _timed(times, "train"):
            trained = train_arms(cfg, parts, store, datasets)
        if exp.rl_arms():
            with _timed(times, "rl"):
                prompts = write_rl_prompts(cfg, exp, task, store)
                trained.update(train_rl_arms(cfg, parts, store, task, prompts))
        with _timed(times, "eval"):
            evaluated = evaluate_arms(cfg, parts, store, task)
    with _timed(times, "report"):
        times_so_far = {**times, "total": time.perf_counter() - t0}
        report = write_report(cfg, exp, store, task, evaluated, data, trained, times_so_far)
    print(report["text"])
    print(f"\n[experiment] report {report['path']} (figures: {', '.join(str(p) for p in report['figures'])})")
    return {"report": report, "trained": trained, "times": times}
