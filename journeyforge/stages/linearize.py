"""linearize: every finished tree of the explore run -> trajectories of each configured kind.

With several kinds and `linearize.matched=true` (the default), only trees for which every kind
produced a trajectory are kept, so that the datasets of a comparison cover the same problems.
With `linearize.journey.reflection=llm`, journeys are drafted with template reflections and then
rewritten by the `linearize.rewrite` model in one batched call (see traces/llm_reflection.py).
"""
from __future__ import annotations

import dataclasses
from collections import Counter

from omegaconf import DictConfig

from analysis.tables import table
from db.stored_tree import load_trees
from journeyforge.components import build_task, store_of
from journeyforge.settings import rewrite_options
from journeyforge.stages.common import check_task, check_trees_task, require_run, start_run
from journeyforge.stages.run_parts import RunParts
from journeyforge.tokens import token_counter
from search.policies import GenerationRequest, make_policy
from traces.linearize_batch import count_tokens_in, linearize_trees
from traces.linearize_settings import LinearizeSettings
from traces.llm_reflection import RewriteStats, mark_style, rewrite_journeys


def _chat_renderer(policy):
    """The policy's chat template, or None: a backend or tokenizer without one (it says so only
    when asked) gets a plain-text prompt instead."""
    try:
        policy.render_chat([{"role": "user", "content": "probe"}])
    except (NotImplementedError, ValueError):
        return None
    return policy.render_chat


def _rewrite(lin: LinearizeSettings, task, drafts: list[dict], count) -> tuple[list[dict], RewriteStats]:
    """Every journey draft rewritten by the `linearize.rewrite` model in ONE batched `generate` call."""
    policy_cfg, options = rewrite_options(lin.rewrite)
    policy = make_policy(policy_cfg, task=task)
    try:
        render_chat = _chat_renderer(policy)

        def complete(prompts: list[str]) -> list[str]:
            requests = [GenerationRequest(prompt=p, max_tokens=options.max_tokens, stop=tuple(task.answer_stop),
                                          temperature=options.temperature, top_p=options.top_p)
                        for p in prompts]
            return [samples[0].text for samples in policy.generate(requests)]

        return rewrite_journeys(task, drafts, complete, options, render_chat=render_chat, budget=lin.journey.max_tokens,
                                tokenizer=count)
    finally:
        policy.close()


def run(cfg: DictConfig) -> dict:
    """Linearize the trees of explore run `cfg.name`, every setting checked first (`run_with`)."""
    return run_with(RunParts.of(cfg))


def run_with(parts: RunParts) -> dict:
    """Every finished tree of explore run `parts.name` -> trajectories of each of `parts.linearize.kinds`."""
    cfg, lin = parts.cfg, parts.linearize
    store = store_of(parts.store)
    task = build_task(cfg)
    explore = require_run(store, cfg.name, "explore", f"run `journeyforge explore name={cfg.name}` first")
    check_task(explore, cfg)  # before this stage's run row: the wrong task writes nothing
    trees = store.trees(explore["id"])
    check_trees_task(explore, trees, task.dataset)  # every tree: unfinished ones of another task, too
    trees = [t for t in trees if t["status"] == "done"]
    kinds = list(lin.kinds)
    options = {kind: lin.kind_options(kind) for kind in kinds}
    style = lin.journey.reflection
    if style == "llm":  # the draft the model rewrites
        options["journey"] = dataclasses.replace(lin.journey, reflection="template")
    matched = lin.matched and len(kinds) > 1
    run_id = start_run(store, cfg, "linearize")
    count = token_counter(cfg)

    # Everything is linearized in memory first: matching needs every kind of a tree, and the
    # rewrite needs every journey of the run for its one batched call.
    done = linearize_trees(load_trees(store, [t["id"] for t in trees]), task,
                           {kind: (kind, options[kind]) for kind in kinds}, tokenizer=count, matched=matched,
                           progress=True)
    out, skipped, dropped = done.rows, done.skipped, done.dropped

    rewrites = None
    if "journey" in kinds:
        places = [(tid, i) for tid, per_kind in out.items() for i in range(len(per_kind["journey"]))]
        drafts = [out[tid]["journey"][i] for tid, i in places]
        if style == "llm":
            rewritten, rewrites = _rewrite(lin, task, drafts, count) if drafts else ([], RewriteStats())
        else:
            rewritten = [mark_style(r, "template") for r in drafts]
        for (tid, i), row in zip(places, rewritten):
            out[tid]["journey"][i] = row

    made: Counter = Counter()
    backtracks: Counter = Counter()
    parts = []
    for tid, per_kind in out.items():
        for kind, rows in per_kind.items():
            count_tokens_in(rows, count)
            parts.append((tid, kind, rows))
            made[kind] += len(rows)
            backtracks[kind] += sum(r["n_backtracks"] for r in rows)
    # Replacing per (run, tree, kind) makes a re-run give the same rows, not twice as many; all in one
    # transaction, so that a re-run that fails part way leaves a finished run's rows as they were.
    store.replace_run_trajectories(run_id, parts)

    stats = {"trees": len(trees), "trajectories": dict(made), "backtracks": dict(backtracks),
             "skipped": {k: dict(v) for k, v in skipped.items()},
             "matched": matched, "dropped_for_matching": dropped}
    if "journey" in kinds:
        stats["reflection"] = style
    if rewrites is not None:
        stats.update(rewrites_ok=rewrites.ok, rewrites_failed=rewrites.failed,
                     rewrite_failures=dict(rewrites.reasons))
    store.finish_run(run_id, "done", stats)
    print(table(["kind", "trajectories", "backtracks", "trees skipped", "why"],
                [[k, made[k], backtracks[k], sum(skipped[k].values()),
                  "; ".join(f"{r} ({n})" for r, n in skipped[k].items()) or "-"] for k in kinds],
                title=f"[linearize] {len(trees)} finished trees of explore run {cfg.name!r}"))
    if matched:
        print(f"[linearize] matched sets: {dropped} trees dropped because some kind had no trajectory")
    if rewrites is not None:
        why = ", ".join(f"{r} ({n})" for r, n in rewrites.reasons.items()) or "-"
        print(f"[linearize] llm reflections: {rewrites.ok} rewrites kept, {rewrites.failed} fell back "
              f"to the template draft ({why})")
    return {"run_id": run_id, **stats}
