"""`prm.data=samples`: the scorer's base model answers the training problems k times and the scorer learns
from those answers' steps, each labelled by where the answers through it ended (training/sampled_steps.py).

The answers are stored as run `<name>` of stage `prm_sample`, in the `evals` / `eval_samples` rows eval
writes (one row per training problem, every sampled answer with `is_correct` = its final answer verified),
so `SELECT ... FROM eval_samples` shows what the scorer learned from, and a later prm run with the same
model (by sha256 of its files) and sampling reads them back instead of sampling again. Nothing is written
before every answer is drawn: a failed or interrupted sampling leaves the store as it was.
"""
from __future__ import annotations

from journeyforge.components import load_problems, policy_of
from journeyforge.fingerprint import model_digest
from journeyforge.stages.common import StageError, start_run
from journeyforge.stages.run_parts import RunParts
from search.tasks.base import Problem
from traces.splits import split_problems
from training.answer_eval import prompt_style
from training.expert_samples import eval_rows, sample_problems, sample_stats
from training.sampled_steps import sampled_step_rows
from training.student import StudentError

PRM_SAMPLE_STAGE = "prm_sample"
SAMPLER = "prm"   # the `evals.model` label of the stored answers


def _stamp(parts: RunParts, model_ref: str) -> dict:
    """What makes two sample runs the same draw: the model (by the sha256 of its files) and the sampling."""
    ev = parts.eval
    return {"model": model_ref, "model_sha256": model_digest(model_ref), "samples": parts.prm.samples,
            "temperature": ev.temperature, "top_p": ev.top_p, "max_tokens": ev.max_tokens, "seed": ev.seed}


def sampled_rows(store, parts: RunParts, task, model_ref: str) -> tuple[dict[str, list[dict]], dict]:
    """The scorer's train / test stepwise rows from the sample run (drawn now, or read back), split by
    problem as the export splits (export.test_fraction, export.seed); and the run's stamp."""
    cfg = parts.cfg
    problems = [p for p in load_problems(task) if p.split == "train"]
    if not problems:
        raise StageError(f"task {task.name!r} has no training problems to sample answers for (task.n_train)")
    stamp = _stamp(parts, model_ref)
    run = store.get_run(cfg.name, PRM_SAMPLE_STAGE)
    if run is not None and run["status"] == "done" and (run["stats"] or {}).get("stamp") == stamp:
        print(f"[prm] the answers of {model_ref} to the training problems are stored (run {cfg.name!r}, stage "
              f"{PRM_SAMPLE_STAGE}); not sampled again")
    else:
        run = _sample(store, parts, task, model_ref, problems, stamp)
    stored = {row["id"]: Problem.from_row(row) for row in store.problems(dataset=task.dataset, split="train")}
    rows = sampled_step_rows(task, stored, store.eval_samples(run["id"], SAMPLER))
    splits = split_problems(stored.values(), parts.export.test_fraction, parts.export.seed)
    data: dict[str, list[dict]] = {"train": [], "test": []}
    for row in rows:
        data[splits[row["problem"]]].append(row)
    return data, stamp


def _sample(store, parts: RunParts, task, model_ref: str, problems: list[Problem], stamp: dict) -> dict:
    opts, ev = parts.prm, parts.eval
    policy = policy_of(parts.policy, task, model=model_ref)
    try:
        answered = sample_problems(policy, task, problems, prompt_style(model_ref, None), opts.samples, ev,
                                   ev.seed, keep="answer", label="prm.model", model=model_ref)
    except StudentError as err:
        raise StageError(str(err)) from None
    finally:
        policy.close()
    ids = store.add_problems([p.row() for p in problems])
    run_id = start_run(store, parts.cfg, PRM_SAMPLE_STAGE)
    store.replace_evals(run_id, SAMPLER, eval_rows(answered, {p.key: i for p, i in zip(problems, ids)}))
    stats = {**sample_stats(answered, opts.samples, "answer", policy.stats.seconds), "stamp": stamp}
    store.finish_run(run_id, "done", stats)
    print(f"[prm] {stats['samples']} answers of {model_ref} to {stats['problems']} training problems in "
          f"{stats['seconds']:.0f} s: {stats['verified']} right, {stats['solved']} problems with a right one")
    return store.get_run(parts.cfg.name, PRM_SAMPLE_STAGE)


__all__ = ["PRM_SAMPLE_STAGE", "sampled_rows"]
