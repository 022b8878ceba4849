"""evolve: self-evolution rounds against one store (rStar-Math's rounds; Stream of Search's STaR).

Round 0 explores with the configured policy; round k >= 1 with round k-1's tuned model (an SFT
adapter, a GRPO adapter with `evolve.rl`, or a from-scratch student) and, with `evolve.prm`, round
k-1's step scorer as the value. With `evolve.learn_from=samples` (or `both`) round k >= 1 is expert
iteration: round k-1's model answers every training problem `evolve.samples` times and the verified
answers are round k's data (stages/evolve_samples.py), alone or after every earlier round's
(`evolve.data=accumulate`), trained from the base or from round k-1's model (`evolve.init`). Every
round runs the ordinary stages (explore, linearize, export, train, rl, prm, eval) with copies of the
evolve run's settings objects (`round_parts`: named `<name>/round-<k>`, with its own folders), and
records in `runs` its round, the run it came from and the model that grew or came out of it. A kill
at any point resumes: a finished round is skipped, a finished stage of an unfinished round too, and
the stages themselves resume what they had begun. The report goes to `<evolve.dir>/report.md`.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from omegaconf import DictConfig

from journeyforge.components import (ConfigError, build_task, load_problems, model_policy, settings, store_of,
                                     validate_config)
from journeyforge.evolve_settings import EvolveSettings
from journeyforge.fingerprint import model_digest
from journeyforge.stages import evaluate, explore, export, linearize, prm, rl, train
from journeyforge.stages.common import StageError
from journeyforge.stages.evolve_checks import check_evolve_dir, check_evolve_settings, check_round_model
from journeyforge.stages.evolve_samples import (SAMPLE_STAGE, build_round_set, round_sft, sample_round,
                                                sampled_examples, trees_rows)
from journeyforge.stages.run_parts import RunParts
from journeyforge.stages.train import train_adapter
from search.policies import policy_options
from training.sft import read_sft_record

# The explorer's prompt for a model trained in each `train.format` (training/answer_eval.py build_prompt
# gives eval the same ones): the question alone, the chat messages, or the few-shot prompt.
PROMPT_FOR_FORMAT = {"prompt_completion": "question", "messages": "chat", "fewshot": "fewshot"}


def evolve_settings(cfg: DictConfig) -> EvolveSettings:
    ev = settings(EvolveSettings, cfg.get("evolve"), "evolve")
    ev.validate()
    return ev


def round_name(name: str, k: int) -> str:
    return f"{name}/round-{k}"


def driving_kind(parts: RunParts, ev: EvolveSettings) -> str:
    """The trained kind whose model grows the next round."""
    kinds = parts.kinds_to_train()
    kind = ev.kind or (kinds[0] if kinds else None)
    if kind not in kinds:
        raise StageError(f"evolve.kind={kind} is not among the kinds train tunes ({', '.join(kinds)}): "
                         "set evolve.kind to one of them")
    return kind


def round_model(parts: RunParts, ev: EvolveSettings, k: int) -> Path:
    """The model directory round k leaves for round k+1 (its SFT adapter or student, or GRPO's adapter)."""
    models = Path(ev.dir) / f"round-{k}" / "models"
    kind = driving_kind(parts, ev)
    return models / (f"rl-{kind}" if ev.rl else kind)


def round_parts(parts: RunParts, ev: EvolveSettings, k: int, model: Path | None, scorer: Path | None) -> RunParts:
    """The settings of round k: copies of `parts` named `<name>/round-<k>`, with the round's folders and,
    for k >= 1, round k-1's `model` as the policy (and its step `scorer` as the value)."""
    root = Path(ev.dir) / f"round-{k}"
    # Each round is scored by its tuned model; the untuned policy (round 0's may be no model at all,
    # scripted or symbolic) is not a round.
    changes: dict = {"export": _copy(parts.export, dir=str(root / "datasets")),
                     "train": _copy(parts.train, dir=str(root / "models")),
                     "eval": _copy(parts.eval, include_base=False)}
    if parts.rl is not None:
        changes["rl"] = _copy(parts.rl, dir=str(root / "models"), init=driving_kind(parts, ev))
    if parts.prm is not None:
        changes["prm"] = _copy(parts.prm, dir=str(root / "prm"))
    if model is not None:
        record = _training_record(model)
        changes["policy"] = _round_policy(parts, ev, model, record)
        style = record.get("prompt_style") or (record.get("settings") or {}).get("format")
        if style in PROMPT_FOR_FORMAT:  # prompt the explorer as the model was trained
            changes["task"] = {**parts.task, "prompt_format": PROMPT_FOR_FORMAT[style]}
    if scorer is not None:
        changes["search"] = _copy(parts.search, value="prm", prm=str(scorer))
    return parts.changed(name=round_name(parts.name, k), **changes)


def _copy(options, **changes):
    """A copy of the settings object `options` with `changes`, checked on construction as the stage
    would check it: a value its checks reject (a step scorer folder without a scorer) is a ConfigError."""
    try:
        return dataclasses.replace(options, **changes)
    except ValueError as err:
        raise ConfigError(" ".join(str(err).split())) from None


def _round_policy(parts: RunParts, ev: EvolveSettings, model: Path, record: dict) -> dict:
    """Round k's policy: round k-1's `model` (trained as `record` says) on the configured backend, or on
    transformers when that backend loads no model; `evolve.policy` over it."""
    policy = model_policy(parts.policy, parts.cfg.get("seed", 0))
    if (model / "adapter_config.json").exists():  # LoRA: the base it was tuned from, plus the adapter
        policy.update(model=record.get("base_model") or (record.get("settings") or {}).get("model")
                      or parts.train.model, adapter=str(model))
    else:  # a full model (train.scratch students, train.lora=false)
        policy.update(model=str(model))
        if "adapter" in policy_options(policy["backend"]):
            policy["adapter"] = None
    policy.update(ev.policy or {})
    return policy


def round_config(cfg: DictConfig, ev: EvolveSettings, k: int, model: Path | None, scorer: Path | None) -> DictConfig:
    """The config of round k (`round_parts` of `cfg`): what its runs record."""
    return round_parts(RunParts.of(cfg, validate=False), ev, k, model, scorer).cfg


def check_round_settings(parts: RunParts, ev: EvolveSettings) -> None:
    """ConfigError unless the config of every round k >= 1 passes `validate_config` with the model round
    k-1 will leave (its directory need not exist yet: options are checked, no model is loaded). A fault
    of `evolve.policy` is named as such: the round is checked without it first."""
    check_evolve_settings(parts, ev)
    for k in range(1, ev.rounds):
        planned = round_model(parts, ev, k - 1)
        for options in ({}, ev.policy or {}):
            try:
                validate_config(round_parts(parts, dataclasses.replace(ev, policy=options), k, planned, None).cfg)
            except ConfigError as err:
                text = str(err)
                if options:
                    text = text.replace("policy.", "evolve.policy.", 1)
                    raise ConfigError(f"{text} (round {k}'s policy: round {k - 1}'s model with evolve.policy over "
                                      "it); nothing was written") from None
                raise ConfigError(f"round {k} of evolve run {parts.name!r}: {text}; nothing was written") from None


def _training_record(model: Path) -> dict:
    """What training recorded in `model`: GRPO's record (base_model, prompt_style) or SFT's (settings)."""
    from training.grpo import read_rl_record

    return read_rl_record(model) or read_sft_record(str(model)) or {}


def _done(store, name: str, stage: str) -> bool:
    run = store.get_run(name, stage)
    return run is not None and run["status"] == "done"


def _selection(store, cfg: DictConfig, ev: EvolveSettings, k: int, train_keys: list[str]) -> list[str]:
    """The training problems round k grows (evolve.problems)."""
    if ev.problems == "new":
        size = -(-len(train_keys) // ev.rounds)
        return train_keys[k * size:(k + 1) * size]
    if ev.problems == "unsolved" and k > 0:
        solved: set[str] = set()
        for j in range(k):
            run = store.get_run(round_name(cfg.name, j), "explore")
            if run is not None:
                ids = set(store.solved(run["id"]))
                solved |= {t["problem"]["key"] for t in store.trees(run["id"]) if t["id"] in ids}
            sampled = store.get_run(round_name(cfg.name, j), SAMPLE_STAGE)
            if sampled is not None:  # a problem one of whose sampled answers was kept is solved too
                ids = {r["problem_id"] for r in store.evals(sampled["id"]) if r["is_correct"]}
                solved |= {p["key"] for p in store.problems(ids=list(ids))} if ids else set()
        return [key for key in train_keys if key not in solved]
    return list(train_keys)


def _grower(policy: dict) -> tuple[str, str | None]:
    """(model, sha256) of the `policy`: its model name or directory, or its backend's name."""
    model = policy.get("model") if "model" in policy_options(policy["backend"]) else None
    label = str(model) if model else str(policy["backend"])
    if policy.get("adapter"):
        label = str(policy["adapter"])
    return label, model_digest(label)


def run(cfg: DictConfig) -> dict:
    """Run (or resume) rounds 0..evolve.rounds-1 of evolve run `cfg.name`, then write the report."""
    from analysis.evolve_report import write_report

    parts = RunParts.of(cfg)  # every setting, before the store is opened: a bad one writes nothing
    ev = evolve_settings(cfg)
    kind = driving_kind(parts, ev)
    if ev.prm and "prm" not in _value_choices():
        raise StageError("evolve.prm=true needs search.value=prm, which this journeyforge does not have")
    check_evolve_dir(ev)
    check_round_settings(parts, ev)  # every round's config, evolve.policy included, before round 0 runs
    task = build_task(cfg)
    train_keys = [p.key for p in load_problems(task) if p.split == "train"]
    store = store_of(parts.store, create=True)
    rounds = []
    parent = None
    for k in range(ev.rounds):
        name = round_name(cfg.name, k)
        if _done(store, name, "eval") and store.get_run(name, "eval")["round"] == k:
            print(f"[evolve] round {k} ({name}) is finished; not redone")
            parent = _origin(store, name)["id"]
            rounds.append({"round": k, "name": name, "skipped": True})
            continue
        model = scorer = None
        if k > 0:
            # Round k-1's model (and scorer) must be there and load before round k writes anything.
            model = round_model(parts, ev, k - 1)
            check_round_model(cfg, k, model)
            scorer = Path(ev.dir) / f"round-{k - 1}" / "prm" if ev.prm else None
            if scorer is not None and not scorer.is_dir():
                raise StageError(f"round {k} of evolve run {cfg.name!r} is valued by round {k - 1}'s step scorer "
                                 f"{scorer}, which is missing; nothing was written")
        rp = round_parts(parts, ev, k, model, scorer)
        keys = _selection(store, cfg, ev, k, train_keys)
        if not keys:
            print(f"[evolve] round {k}: no training problems left to grow (evolve.problems={ev.problems}); stopping")
            break
        outcome = _play_round(store, parts, rp, ev, k, kind, keys, parent, model, task)
        rounds.append(outcome)
        if outcome.get("stopped"):
            break
        parent = outcome.pop("origin")
    report = write_report(store, cfg.name, kind, Path(ev.dir), rl=ev.rl)
    print(report["text"])
    print(f"[evolve] report {report['path']}, plot {report['plot']}")
    return {"rounds": rounds, **report}


def _origin(store, name: str) -> dict:
    """The first run of a round: its explore run, or its sample run when it grew no trees."""
    return store.get_run(name, "explore") or store.get_run(name, SAMPLE_STAGE)


def _play_round(store, parts: RunParts, rp: RunParts, ev: EvolveSettings, k: int, kind: str, keys: list[str],
                parent: int | None, model: Path | None, task) -> dict:
    """Round k (settings `rp`, made from the evolve run's `parts`): grow trees and/or sample answers with
    round k-1's model, train round k's model, evaluate it. Returns {round, name, skipped, origin} or, when
    the round has nothing to learn from, {..., stopped}."""
    validate_config(rp.cfg)  # the round's settings, its model and step scorer among them, once
    name = rp.name
    grower, grower_sha = _grower(rp.policy)
    trees = k == 0 or ev.learn_from in ("trees", "both")
    samples = k > 0 and ev.learn_from in ("samples", "both")
    how = " and ".join(w for w, on in (("trees grown", trees), (f"{ev.samples} answers sampled each", samples)) if on)
    print(f"\n=== evolve round {k}: {name}, {len(keys)} training problems, {how} by {grower} ===")
    origin = made = sampled = None
    if trees:
        if not _done(store, name, "explore"):
            explore.run_with(rp, train_keys=set(keys))
        origin = store.get_run(name, "explore")["id"]
        store.set_lineage(origin, round=k, parent_run_id=parent, model=grower, model_sha256=grower_sha)
        if not _done(store, name, "linearize"):
            linearize.run_with(rp)
        _lineage(store, name, "linearize", k, origin, grower, grower_sha)
        made = sum(((store.get_run(name, "linearize").get("stats") or {}).get("trajectories") or {}).values())
    if samples:
        sampled = sample_round(store, rp, ev, k, kind, _prompt_style(model), keys, task)
        store.set_lineage(sampled["id"], round=k, parent_run_id=parent, model=grower, model_sha256=grower_sha)
        origin = origin or sampled["id"]
    stop = _nothing_to_learn(k, ev, made if trees else None, sampled["stats"] if samples else None)
    if stop:
        print(stop)
        return {"round": k, "name": name, "skipped": False, "stopped": stop}
    if trees and made:
        if not _done(store, name, "export"):
            export.run_with(rp)
        _lineage(store, name, "export", k, origin, grower, grower_sha)
    if k > 0 and (samples or ev.data == "accumulate"):
        _train_on_round_set(store, rp, ev, k, kind, model, task, sampled)
    else:
        train.run_with(rp)  # resumes by itself: an adapter trained on the same data with the same settings is kept
    for trained in rp.kinds_to_train():
        _lineage(store, f"{name}/{trained}", "train", k, origin, str(Path(rp.train.dir) / trained))
    if ev.rl:
        rl.run_with(rp)
        _lineage(store, f"{name}/rl-{kind}", "rl", k, origin, str(Path(rp.rl.dir) / f"rl-{kind}"))
    if ev.prm:
        if not _done(store, name, "prm"):
            prm.run_with(_scorer_parts(rp, parts, ev, k))
        _lineage(store, name, "prm", k, origin, str(Path(rp.prm.dir)))
    if not _done(store, name, "eval"):
        evaluate.run_with(_eval_parts(rp, ev))
    _lineage(store, name, "eval", k, origin, str(round_model(parts, ev, k)))
    return {"round": k, "name": name, "skipped": False, "origin": origin}


def _scorer_parts(rp: RunParts, parts: RunParts, ev: EvolveSettings, k: int) -> RunParts:
    """Round k's settings for its prm run: the scorer starts from `prm.model`, or with
    `evolve.prm_base=round` from the model the round just trained."""
    if ev.prm_base != "round":
        return rp
    return rp.changed(prm=_copy(rp.prm, model=str(round_model(parts, ev, k))))


def _eval_parts(rp: RunParts, ev: EvolveSettings) -> RunParts:
    """Round k's settings for its eval: with `evolve.prm`, `eval.scaling` and no `eval.prm` of the user's,
    the round's samples are ranked by the round's scorer (its folder, recorded in the eval run's config)."""
    if not (ev.prm and rp.eval.scaling and rp.eval.prm is None):
        return rp
    return rp.changed(eval=_copy(rp.eval, prm=str(Path(rp.prm.dir))))


def _lineage(store, run_name: str, stage: str, k: int, origin: int, made: str, sha: str | None = None) -> None:
    """Record round k's lineage on run (run_name, stage), when it exists: it came from the round's first run
    `origin`; `made` is the model it used or produced (sha256 `sha`, else that of the folder `made`)."""
    row = store.get_run(run_name, stage)
    if row is not None:
        store.set_lineage(row["id"], round=k, parent_run_id=origin, model=made,
                          model_sha256=sha if sha is not None else model_digest(made))


def _nothing_to_learn(k: int, ev: EvolveSettings, trajectories: int | None, sampled: dict | None) -> str | None:
    """The one line that ends the evolve run after round k, when round k found nothing to train on: a next
    round would be grown by the same model again."""
    if sampled is not None and not sampled.get("verified") and not trajectories:
        return (f"[evolve] round {k}: none of the {sampled.get('samples', 0)} answers sampled for its "
                f"{sampled.get('problems', 0)} training problems is verified (evolve.keep={ev.keep}): nothing to "
                f"train on; stopping after round {k}'s samples, the rounds before it kept")
    if sampled is None and not trajectories:
        return (f"[evolve] round {k}: its trees gave no trajectory to train on (no verified solution?); "
                f"stopping after round {k}'s trees")
    return None


def _prompt_style(model: Path | None) -> str:
    """The prompt round k-1's model was trained on, in eval's names (prompt_completion | messages)."""
    record = _training_record(model) if model is not None else {}
    return record.get("prompt_style") or (record.get("settings") or {}).get("format") or "fewshot"


def _train_on_round_set(store, rp: RunParts, ev: EvolveSettings, k: int, kind: str, model: Path | None, task,
                        sampled: dict | None) -> None:
    """Train round k's `kind` model on its own set (its trees' and samples' examples, after round k-1's with
    evolve.data=accumulate), from the base or from round k-1's model (evolve.init)."""
    new = trees_rows(ev, k, kind) + (sampled_examples(store, sampled, kind, task, k) if sampled else [])
    folder, by_round = build_round_set(ev, k, kind, new)
    print(f"[evolve] round {k}: {sum(by_round.values())} examples to train on (by the round they came from: "
          + ", ".join(f"round {r}: {n}" for r, n in by_round.items()) + f"), in {folder}")
    sft, force = round_sft(rp.train, ev, model)
    result = train_adapter(store, rp.cfg, folder, Path(rp.train.dir) / kind, sft, force, f"{rp.name}/{kind}")
    run = store.get_run(f"{rp.name}/{kind}", "train")
    if run is not None and not result.get("reused"):  # the lineage of the set it trained on, by round
        store.finish_run(run["id"], "done", {**(run.get("stats") or {}), "data": str(folder),
                                             "examples_by_round": {str(r): n for r, n in by_round.items()}})


def _value_choices() -> set[str]:
    """The value estimators search.value accepts (the PRM value is being added beside this stage)."""
    from search.values import ESTIMATORS

    return set(ESTIMATORS)
