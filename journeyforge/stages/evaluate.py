"""eval: greedy accuracy of the base model and each tuned adapter on held-out problems."""
from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from journeyforge.components import build_task, policy_of, store_of
from journeyforge.stages.common import StageError, check_explore_task, start_run
from journeyforge.stages.rl import rl_models
from journeyforge.stages.run_parts import RunParts
from search.tasks.base import Problem
from training.answer_eval import accuracy_table, breakdown_tables, evaluate_models
from training.student import StudentError


def scaling_report(cfg: DictConfig, ev, task, problems: list[Problem], results: list[dict],
                   models: list[tuple] = (), factory=None) -> dict:
    """Accuracy by strategy and N (95% bootstrap intervals over problems), its table and plots; with a
    PRM, also its step-level beam search (`eval.prm_beam`) for each of `models`."""
    from analysis.stats import bootstrap_mean
    from analysis.tables import table
    from training.scaling import plot_scaling, scaling_results, score_samples

    by_key = {p.key: p for p in problems}
    scores = score_samples(ev.prm, task, by_key, results, ev.prm_aggregate) if ev.prm else None
    ns = sorted(set(ev.scaling))
    found = scaling_results(task, by_key, results, ns, scores)
    if ev.prm and ev.prm_beam and models:
        from training.prm_beam import beam_results

        found += beam_results(models, factory, task, problems, ns, ev.prm, ev)
    lines, stored = [], []
    for r in found:
        ci = bootstrap_mean([float(x) for x in r["correct"]])
        lines.append([r["model"], r["strategy"], str(r["n"]), f"{100 * ci.value:.1f}",
                      f"[{100 * ci.low:.1f}, {100 * ci.high:.1f}]", f"{r['tokens']:.0f}"])
        stored.append({k: r[k] for k in ("model", "strategy", "n", "tokens")}
                      | {"accuracy": ci.value, "low": ci.low, "high": ci.high})
    plot = Path(cfg.workdir) / "eval" / "scaling.png"
    plot.parent.mkdir(parents=True, exist_ok=True)
    plot_scaling(found, plot)
    title = (f"[eval] inference-time scaling on {len(problems)} problems (the first N of {max(ns)} samples; "
             + (f"PRM {ev.prm}, {ev.prm_aggregate} step score)" if ev.prm else "no eval.prm: vote and pass@N only)"))
    return {"results": stored, "plot": str(plot),
            "table": table(["model", "strategy", "N", "accuracy%", "95% CI", "tokens/problem"], lines, title=title)}


def run(cfg: DictConfig) -> dict:
    """Evaluate the models of run `cfg.name`, every setting checked first (`run_with`)."""
    return run_with(RunParts.of(cfg))


def run_with(parts: RunParts) -> dict:
    """Answer the held-out problems with the base model (`eval.include_base`) and every trained model."""
    cfg, ev = parts.cfg, parts.eval
    store = store_of(parts.store)
    check_explore_task(store, cfg)  # the adapters of `name` were tuned on its explore run's task
    task = build_task(cfg)
    rows = store.problems(dataset=task.dataset, split="test")[: ev.n_problems]
    if not rows:
        raise StageError(f"no held-out (split=test) problems of dataset {task.dataset!r} in the store; "
                         f"run `journeyforge explore name={cfg.name}` first (it loads them)")
    problems = [Problem.from_row(r) for r in rows]
    key_to_id = {r["key"]: r["id"] for r in rows}
    models = _models(parts)
    if not models:
        raise StageError("nothing to evaluate: eval.include_base=false and no trained adapters in "
                         f"{parts.train.dir}; run `journeyforge train name={cfg.name}` first")

    def factory(model: str, adapter: str | None):
        return policy_of(parts.policy, task, model=model, adapter=adapter)

    run_id = start_run(store, cfg, "eval")
    try:
        samples = max([ev.samples, *ev.scaling])  # scaling scores the first N of max(N) samples
        results = evaluate_models(models, problems, task, factory, max_tokens=ev.max_tokens,
                                  samples=samples, temperature=ev.temperature, top_p=ev.top_p, seed=ev.seed)
    except StudentError as err:
        store.finish_run(run_id, "failed", {"error": str(err)})  # a finished eval run is left as it was
        raise StageError(str(err)) from None
    # Everything that can still fail runs before the first row is replaced: a re-run of a finished eval
    # run that fails leaves its rows as they were (journeyforge/stages/common.py).
    scaling = scaling_report(cfg, ev, task, problems, results, models, factory) if ev.scaling else None
    for label, *_ in models:
        mine = [dict(r, problem_id=key_to_id[r["problem_id"]]) for r in results if r["model"] == label]
        store.replace_evals(run_id, label, [{**{k: r[k] for k in ("problem_id", "prediction", "answer",
                                                                 "is_correct", "n_tokens")},
                                             "samples": r.get("sample_rows")} for r in mine])
    # The table shows every model evaluated in this experiment (multirun jobs add theirs).
    stored = store.evals(run_id)
    text = accuracy_table(stored)
    store.finish_run(run_id, "done", {"models": sorted({r["model"] for r in stored}),
                                      **({"scaling": scaling} if scaling else {})})
    print(f"[eval] {len(problems)} held-out problems\n{text}")
    if scaling:
        print(scaling["table"])
        print(f"[eval] accuracy against N and against generated tokens: {scaling['plot']}")
    id_to_key = {v: k for k, v in key_to_id.items()}
    for field, table_text in breakdown_tables([dict(r, problem_key=id_to_key.get(r["problem_id"])) for r in stored],
                                              problems).items():
        print(f"[eval] greedy accuracy by {field}\n{table_text}")
    return {"run_id": run_id, "table": text, "rows": stored}


def _models(parts: RunParts) -> list[tuple]:
    """Eval's model tuples: the base model (`eval.include_base`), each trained kind's adapter or whole
    model, and the GRPO models (`<rl.dir>/rl-<init>`, with the prompt style they were trained on)."""
    models: list[tuple] = []
    if parts.eval.include_base:
        models.append(("base", parts.cfg.policy.model, None))
    for kind in parts.kinds_to_train():
        adapter = Path(parts.train.dir) / kind
        if (adapter / "adapter_config.json").exists():
            models.append((kind, parts.train.model, str(adapter)))
        elif (adapter / "config.json").exists():  # a full model (train.lora=false, train.scratch): no base
            models.append((kind, str(adapter), None))
    return models + rl_models(parts.rl.dir if parts.rl is not None else parts.train.dir)
