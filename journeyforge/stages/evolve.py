"""evolve: self-evolution rounds against one store (rStar-Math's rounds; Stream of Search's STaR).

Round 0 explores with the configured policy; round k >= 1 with round k-1's tuned model (an SFT
adapter, a GRPO adapter with `evolve.rl`, or a from-scratch student) and, with `evolve.prm`, round
k-1's step scorer as the value. Every round runs the ordinary stages (explore, linearize, export,
train, rl, prm, eval) on a copy of the config named `<name>/round-<k>` with its own folders, and
records in `runs` its round, the run it came from and the model that grew or came out of it. A kill
at any point resumes: a finished round is skipped, a finished stage of an unfinished round too, and
the stages themselves resume what they had begun. The report goes to `<evolve.dir>/report.md`.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from journeyforge.components import build_task, load_problems, open_store, settings, train_kinds, validate_config
from journeyforge.evolve_settings import EvolveSettings
from journeyforge.stages import evaluate, explore, export, linearize, prm, rl, train
from journeyforge.stages.common import StageError
from search.policies import policy_options
from training.sft import read_sft_record

# The explorer's prompt for a model trained in each `train.format` (training/evaluate.py build_prompt
# gives eval the same ones): the question alone, the chat messages, or the few-shot prompt.
PROMPT_FOR_FORMAT = {"prompt_completion": "question", "messages": "chat", "fewshot": "fewshot"}
# Files of a model directory that make the model: weights, configs, tokenizer. Not the training
# record (rewritten after training), logs, plots or checkpoints.
MODEL_SUFFIXES = (".safetensors", ".bin", ".json", ".model", ".txt", ".gguf")


def model_digest(path: str | Path) -> str | None:
    """sha256 over the model files of directory `path` (names and bytes, sorted); None for a name
    that is no directory (a base model or a backend such as `scripted`)."""
    folder = Path(path)
    if not folder.is_dir():
        return None
    digest = hashlib.sha256()
    for file in sorted(folder.iterdir()):
        if file.is_file() and file.suffix in MODEL_SUFFIXES and not file.name.startswith("journeyforge_"):
            digest.update(file.name.encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def evolve_settings(cfg: DictConfig) -> EvolveSettings:
    ev = settings(EvolveSettings, cfg.get("evolve"), "evolve")
    ev.validate()
    return ev


def round_name(name: str, k: int) -> str:
    return f"{name}/round-{k}"


def driving_kind(cfg: DictConfig, ev: EvolveSettings) -> str:
    """The trained kind whose model grows the next round."""
    kinds = train_kinds(cfg)
    kind = ev.kind or (kinds[0] if kinds else None)
    if kind not in kinds:
        raise StageError(f"evolve.kind={kind} is not among the kinds train tunes ({', '.join(kinds)}): "
                         "set evolve.kind to one of them")
    return kind


def round_model(cfg: DictConfig, ev: EvolveSettings, k: int) -> Path:
    """The model directory round k leaves for round k+1 (its SFT adapter or student, or GRPO's adapter)."""
    models = Path(ev.dir) / f"round-{k}" / "models"
    kind = driving_kind(cfg, ev)
    return models / (f"rl-{kind}" if ev.rl else kind)


def _set(node: DictConfig, key: str, value) -> None:
    OmegaConf.update(node, key, value, merge=False, force_add=True)


def round_config(cfg: DictConfig, ev: EvolveSettings, k: int, model: Path | None, scorer: Path | None) -> DictConfig:
    """The config of round k: `cfg` resolved, named `<name>/round-<k>`, with the round's folders and,
    for k >= 1, round k-1's `model` as the policy (and its step `scorer` as the value)."""
    rc = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    root = Path(ev.dir) / f"round-{k}"
    _set(rc, "name", round_name(cfg.name, k))
    _set(rc, "export.dir", str(root / "datasets"))
    _set(rc, "train.dir", str(root / "models"))
    if rc.get("rl") is not None:
        _set(rc, "rl.dir", str(root / "models"))
        _set(rc, "rl.init", driving_kind(cfg, ev))
    if rc.get("prm") is not None:
        _set(rc, "prm.dir", str(root / "prm"))
    # Each round is scored by its tuned model; the untuned policy (round 0's may be no model at all,
    # scripted or symbolic) is not a round.
    _set(rc, "eval.include_base", False)
    if model is not None:
        policy = OmegaConf.to_container(rc.policy)
        if "model" not in policy_options(policy["backend"]):
            policy = {"backend": "hf", "seed": policy.get("seed", cfg.get("seed", 0))}
        record = _training_record(model)
        if (model / "adapter_config.json").exists():  # LoRA: the base it was tuned from, plus the adapter
            policy.update(model=record.get("base_model") or (record.get("settings") or {}).get("model")
                          or cfg.train.model, adapter=str(model))
        else:  # a full model (train.scratch students, train.lora=false)
            policy.update(model=str(model))
            if "adapter" in policy_options(policy["backend"]):
                policy["adapter"] = None
        policy.update(ev.policy)
        rc.policy = OmegaConf.create(policy)
        style = record.get("prompt_style") or (record.get("settings") or {}).get("format")
        if style in PROMPT_FOR_FORMAT:  # prompt the explorer as the model was trained
            _set(rc, "task.prompt_format", PROMPT_FOR_FORMAT[style])
    if scorer is not None:
        _set(rc, "search.value", "prm")
        _set(rc, "search.prm", str(scorer))
    return rc


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
        return [key for key in train_keys if key not in solved]
    return list(train_keys)


def _grower(cfg: DictConfig) -> tuple[str, str | None]:
    """(model, sha256) of the configured policy: its model name or directory, or its backend's name."""
    model = cfg.policy.get("model") if "model" in policy_options(cfg.policy.backend) else None
    label = str(model) if model else str(cfg.policy.backend)
    if cfg.policy.get("adapter"):
        label = str(cfg.policy.adapter)
    return label, model_digest(label)


def run(cfg: DictConfig) -> dict:
    """Run (or resume) rounds 0..evolve.rounds-1 of evolve run `cfg.name`, then write the report."""
    from analysis.evolve_report import write_report

    validate_config(cfg)  # every setting, before the store is opened: a bad one writes nothing
    ev = evolve_settings(cfg)
    kind = driving_kind(cfg, ev)
    if ev.prm and "prm" not in _value_choices():
        raise StageError("evolve.prm=true needs search.value=prm, which this journeyforge does not have")
    task = build_task(cfg)
    train_keys = [p.key for p in load_problems(task) if p.split == "train"]
    store = open_store(cfg, create=True)
    rounds = []
    parent, model, scorer = None, None, None
    for k in range(ev.rounds):
        name = round_name(cfg.name, k)
        if _done(store, name, "eval") and store.get_run(name, "eval")["round"] == k:
            print(f"[evolve] round {k} ({name}) is finished; not redone")
            parent = store.get_run(name, "explore")["id"]
            rounds.append({"round": k, "name": name, "skipped": True})
            continue
        if k > 0:
            # Round k-1's model must be there before round k writes anything.
            model = round_model(cfg, ev, k - 1)
            if model_digest(model) is None or not any(model.glob("*.json")):
                raise StageError(f"round {k} of evolve run {cfg.name!r} is grown by round {k - 1}'s model {model}, "
                                 f"which is missing; nothing was written. Restore it, or start over under another name=")
            scorer = Path(ev.dir) / f"round-{k - 1}" / "prm" if ev.prm else None
            if scorer is not None and not scorer.is_dir():
                raise StageError(f"round {k} of evolve run {cfg.name!r} is valued by round {k - 1}'s step scorer "
                                 f"{scorer}, which is missing; nothing was written")
        rc = round_config(cfg, ev, k, model, scorer)
        grower, grower_sha = _grower(rc)
        keys = _selection(store, cfg, ev, k, train_keys)
        if not keys:
            print(f"[evolve] round {k}: no training problems left to grow (evolve.problems={ev.problems}); stopping")
            break
        print(f"\n=== evolve round {k}: {name}, {len(keys)} training problems, grown by {grower} ===")
        if not _done(store, name, "explore"):
            explore.run(rc, train_keys=set(keys))
        explore_id = store.get_run(name, "explore")["id"]
        store.set_lineage(explore_id, round=k, parent_run_id=parent, model=grower, model_sha256=grower_sha)

        def lineage(run_name: str, stage: str, made: str | None = None) -> None:
            row = store.get_run(run_name, stage)
            if row is not None:
                store.set_lineage(row["id"], round=k, parent_run_id=explore_id, model=made or grower,
                                  model_sha256=model_digest(made) if made else grower_sha)

        if not _done(store, name, "linearize"):
            linearize.run(rc)
        lineage(name, "linearize")
        made = (store.get_run(name, "linearize").get("stats") or {}).get("trajectories") or {}
        if not sum(made.values()):
            # Nothing to learn from (no tree solved, no kind wrote a trajectory): a next round would be
            # grown by the same model again. Stop here; the report shows this round's trees.
            print(f"[evolve] round {k}: its trees gave no trajectory to train on (no verified solution?); "
                  f"stopping after round {k}'s trees")
            rounds.append({"round": k, "name": name, "skipped": False, "stopped": "no trajectories"})
            break
        if not _done(store, name, "export"):
            export.run(rc)
        lineage(name, "export")
        train.run(rc)  # resumes by itself: an adapter trained on the same data with the same settings is kept
        for trained in train_kinds(rc):
            lineage(f"{name}/{trained}", "train", str(Path(rc.train.dir) / trained))
        if ev.rl:
            rl.run(rc)
            lineage(f"{name}/rl-{kind}", "rl", str(Path(rc.rl.dir) / f"rl-{kind}"))
        if ev.prm:
            if not _done(store, name, "prm"):
                prm.run(rc)
            lineage(name, "prm", str(Path(rc.prm.dir)))
        if not _done(store, name, "eval"):
            evaluate.run(rc)
        lineage(name, "eval", str(round_model(cfg, ev, k)))
        parent = explore_id
        rounds.append({"round": k, "name": name, "skipped": False})
    report = write_report(store, cfg.name, kind, Path(ev.dir), rl=ev.rl)
    print(report["text"])
    print(f"[evolve] report {report['path']}, plot {report['plot']}")
    return {"rounds": rounds, **report}


def _value_choices() -> set[str]:
    """The value estimators search.value accepts (the PRM value is being added beside this stage)."""
    from search.values import ESTIMATORS

    return set(ESTIMATORS)
