"""eval: greedy accuracy of the base model and each tuned adapter on held-out problems."""
from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from journeyforge.components import build_policy, build_task, open_store
from journeyforge.stages.common import StageError, start_run
from search.tasks.base import Problem
from training.evaluate import accuracy_table, evaluate_models


def run(cfg: DictConfig) -> dict:
    store = open_store(cfg)
    task = build_task(cfg)
    rows = store.problems(dataset=cfg.task.dataset, split="test")[: cfg.eval.n_problems]
    if not rows:
        raise StageError(f"no held-out (split=test) problems of dataset {cfg.task.dataset!r} in the store; "
                         f"run `journeyforge explore name={cfg.name}` first (it loads them)")
    problems = [Problem(key=r["key"], payload=r["payload"], answer=r["answer"], split=r["split"],
                        dataset=r["dataset"]) for r in rows]
    key_to_id = {r["key"]: r["id"] for r in rows}
    models: list[tuple] = []
    if cfg.eval.include_base:
        models.append(("base", cfg.policy.model, None))
    for kind in cfg.train.kinds:
        adapter = Path(cfg.train.dir) / kind
        if (adapter / "adapter_config.json").exists() or (adapter / "config.json").exists():
            models.append((kind, cfg.train.model, str(adapter)))
    if not models:
        raise StageError("nothing to evaluate: eval.include_base=false and no trained adapters in "
                         f"{cfg.train.dir}; run `journeyforge train name={cfg.name}` first")

    def factory(model: str, adapter: str | None):
        return build_policy(cfg, task, model=model, adapter=adapter)

    run_id = start_run(store, cfg, "eval")
    results = evaluate_models(models, problems, task, factory, max_tokens=cfg.eval.max_tokens,
                              samples=cfg.eval.samples, temperature=cfg.eval.temperature, seed=cfg.seed)
    for label, *_ in models:
        mine = [dict(r, problem_id=key_to_id[r["problem_id"]]) for r in results if r["model"] == label]
        store.replace_evals(run_id, label, [{k: r[k] for k in ("problem_id", "prediction", "answer",
                                                              "is_correct", "n_tokens")} for r in mine])
    # The table shows every model evaluated in this experiment (multirun jobs add theirs).
    stored = store.evals(run_id)
    text = accuracy_table(stored)
    store.finish_run(run_id, "done", {"models": sorted({r["model"] for r in stored})})
    print(f"[eval] {len(problems)} held-out problems\n{text}")
    return {"run_id": run_id, "table": text, "rows": stored}
