"""linearize: every finished tree of the explore run -> trajectories of each configured kind.

With several kinds and `linearize.matched=true` (the default), only trees for which every kind
produced a trajectory are kept, so that the datasets of a comparison cover the same problems.
With `linearize.journey.reflection=llm`, journeys are drafted with template reflections and then
rewritten by the `linearize.rewrite` model in one batched call (see traces/llm_reflection.py).
"""
from __future__ import annotations

from collections import Counter

from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from journeyforge.components import build_task, open_store, validate_config
from journeyforge.report import table
from journeyforge.settings import rewrite_options
from journeyforge.stages.common import StageError, check_task, check_trees_task, require_run, start_run
from journeyforge.tokens import token_counter
from search.policies import GenerationRequest, make_policy
from traces.linearize import linearize_tree
from traces.llm_reflection import RewriteConfig, RewriteStats, mark_style, rewrite_journeys
from traces.reflections import STYLES


def _knobs(cfg: DictConfig, kind: str) -> dict | None:
    node = cfg.linearize.get(kind)
    return OmegaConf.to_container(node, resolve=True) if node is not None else None


def _rewrite_options(cfg: DictConfig) -> tuple[dict, RewriteConfig]:
    """`linearize.rewrite` split into the policy config and the generation options."""
    node = cfg.linearize.get("rewrite")
    if node is None:
        raise StageError("linearize.journey.reflection=llm needs a `linearize.rewrite` policy node "
                         "(backend + options, see journeyforge/conf/config.yaml)")
    return rewrite_options(node)


def _chat_renderer(policy):
    """The policy's chat template, or None: a backend or tokenizer without one (it says so only
    when asked) gets a plain-text prompt instead."""
    try:
        policy.render_chat([{"role": "user", "content": "probe"}])
    except (NotImplementedError, ValueError):
        return None
    return policy.render_chat


def _rewrite(cfg: DictConfig, task, drafts: list[dict], count) -> tuple[list[dict], RewriteStats]:
    """Every journey draft rewritten by the configured model in ONE batched `generate` call."""
    policy_cfg, options = _rewrite_options(cfg)
    policy = make_policy(policy_cfg, task=task)
    try:
        render_chat = _chat_renderer(policy)

        def complete(prompts: list[str]) -> list[str]:
            requests = [GenerationRequest(prompt=p, max_tokens=options.max_tokens, stop=tuple(task.answer_stop),
                                          temperature=options.temperature, top_p=options.top_p)
                        for p in prompts]
            return [samples[0].text for samples in policy.generate(requests)]

        budget = (_knobs(cfg, "journey") or {}).get("max_tokens")
        return rewrite_journeys(task, drafts, complete, options, render_chat=render_chat, budget=budget,
                                tokenizer=count)
    finally:
        policy.close()


def run(cfg: DictConfig) -> dict:
    validate_config(cfg)  # every setting, before the store is opened: a bad one writes nothing
    store = open_store(cfg)
    task = build_task(cfg)
    explore = require_run(store, cfg.name, "explore", f"run `journeyforge explore name={cfg.name}` first")
    check_task(explore, cfg)  # before this stage's run row: the wrong task writes nothing
    trees = store.trees(explore["id"])
    check_trees_task(explore, trees, task.dataset)  # every tree: unfinished ones of another task, too
    trees = [t for t in trees if t["status"] == "done"]
    kinds = list(cfg.linearize.kinds)
    knobs = {kind: _knobs(cfg, kind) for kind in kinds}
    style = (knobs.get("journey") or {}).get("reflection", "template")
    if "journey" in kinds and style not in STYLES:
        raise StageError(f"linearize.journey.reflection={style!r}: choose one of {list(STYLES)}")
    if style == "llm":
        knobs["journey"] = {**knobs["journey"], "reflection": "template"}  # the draft the model rewrites
    matched = bool(cfg.linearize.get("matched", True)) and len(kinds) > 1
    run_id = start_run(store, cfg, "linearize")
    count = token_counter(cfg)

    # Everything is linearized in memory first: matching needs every kind of a tree, and the
    # rewrite needs every journey of the run for its one batched call.
    out: dict[int, dict[str, list[dict]]] = {}
    skipped: dict[str, Counter] = {k: Counter() for k in kinds}
    graphs = store.tree_graphs([t["id"] for t in trees])
    for info in tqdm(trees, desc="linearize", unit="tree", dynamic_ncols=True):
        graph = graphs[info["id"]]
        out[info["id"]] = {}
        for kind in kinds:
            rows, reason = linearize_tree(graph, task, kind, knobs[kind], tokenizer=count)
            out[info["id"]][kind] = rows
            if reason:
                skipped[kind][reason] += 1

    dropped = 0
    if matched:
        for per_kind in out.values():
            missing = [k for k in kinds if not per_kind[k]]
            if missing and len(missing) < len(kinds):
                dropped += 1
                for k in kinds:
                    if per_kind[k]:
                        skipped[k][f"dropped for matching (no {'/'.join(missing)})"] += 1
                        per_kind[k] = []

    rewrites = None
    if "journey" in kinds:
        places = [(tid, i) for tid, per_kind in out.items() for i in range(len(per_kind["journey"]))]
        drafts = [out[tid]["journey"][i] for tid, i in places]
        if style == "llm":
            rewritten, rewrites = _rewrite(cfg, task, drafts, count) if drafts else ([], RewriteStats())
        else:
            rewritten = [mark_style(r, "template") for r in drafts]
        for (tid, i), row in zip(places, rewritten):
            out[tid]["journey"][i] = row

    made: Counter = Counter()
    backtracks: Counter = Counter()
    for tid, per_kind in out.items():
        for kind, rows in per_kind.items():
            for r in rows:
                r["n_tokens"] = count(r["text"])
                r.pop("lines", None)  # derivable from `text`; not a column
            # Replacing per (run, tree, kind) makes a re-run give the same rows, not twice as many.
            store.replace_trajectories(run_id, tid, kind, rows)
            made[kind] += len(rows)
            backtracks[kind] += sum(r["n_backtracks"] for r in rows)

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
