"""eval: greedy accuracy of the base model and each tuned adapter on held-out problems."""
from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from journeyforge.components import build_policy, build_task, eval_settings, open_store, train_kinds, validate_config
from journeyforge.stages.common import StageError, check_explore_task, start_run
from journeyforge.stages.rl import rl_models
from search.tasks.base import Problem
from training.evaluate import accuracy_table, breakdown_tables, evaluate_models
from training.student import StudentError


def run(cfg: DictConfig) -> dict:
    validate_config(cfg)  # every setting, before the store is opened: a bad one writes nothing
    ev = eval_settings(cfg)
    store = open_store(cfg)
    check_explore_task(store, cfg)  # the adapters of `name` were tuned on its explore run's task
    task = build_task(cfg)
    rows = store.problems(dataset=task.dataset, split="test")[: ev.n_problems]
    if not rows:
        raise StageError(f"no held-out (split=test) problems of dataset {task.dataset!r} in the store; "
                         f"run `journeyforge explore name={cfg.name}` first (it loads them)")
    problems = [Problem.from_row(r) for r in rows]
    key_to_id = {r["key"]: r["id"] for r in rows}
    models: list[tuple] = []
    if ev.include_base:
        models.append(("base", cfg.policy.model, None))
    for kind in train_kinds(cfg):
        adapter = Path(cfg.train.dir) / kind
        if (adapter / "adapter_config.json").exists():
            models.append((kind, cfg.train.model, str(adapter)))
        elif (adapter / "config.json").exists():  # a full model (train.lora=false, train.scratch): no base
            models.append((kind, str(adapter), None))
    models += rl_models(cfg)  # GRPO adapters (`<rl.dir>/rl-<init>`), with the prompt style they were trained on
    if not models:
        raise StageError("nothing to evaluate: eval.include_base=false and no trained adapters in "
                         f"{cfg.train.dir}; run `journeyforge train name={cfg.name}` first")

    def factory(model: str, adapter: str | None):
        return build_policy(cfg, task, model=model, adapter=adapter)

    run_id = start_run(store, cfg, "eval")
    try:
        results = evaluate_models(models, problems, task, factory, max_tokens=ev.max_tokens,
                                  samples=ev.samples, temperature=ev.temperature, top_p=ev.top_p, seed=ev.seed)
    except StudentError as err:
        store.finish_run(run_id, "failed", {"error": str(err)})
        raise StageError(str(err)) from None
    for label, *_ in models:
        mine = [dict(r, problem_id=key_to_id[r["problem_id"]]) for r in results if r["model"] == label]
        store.replace_evals(run_id, label, [{**{k: r[k] for k in ("problem_id", "prediction", "answer",
                                                                 "is_correct", "n_tokens")},
                                             "samples": r.get("sample_rows")} for r in mine])
    # The table shows every model evaluated in this experiment (multirun jobs add theirs).
    stored = store.evals(run_id)
    text = accuracy_table(stored)
    store.finish_run(run_id, "done", {"models": sorted({r["model"] for r in stored})})
    print(f"[eval] {len(problems)} held-out problems\n{text}")
    id_to_key = {v: k for k, v in key_to_id.items()}
    for field, table_text in breakdown_tables([dict(r, problem_key=id_to_key.get(r["problem_id"])) for r in stored],
                                              problems).items():
        print(f"[eval] greedy accuracy by {field}\n{table_text}")
    return {"run_id": run_id, "table": text, "rows": stored}
