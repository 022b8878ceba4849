"""train: one LoRA SFT (TRL) per trajectory kind on the exported `sft/<kind>` dataset.

A kind whose adapter was already trained with the same settings on the same training data is not
trained again (`train.force=true` retrains), so re-running `journeyforge run` resumes.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from omegaconf import DictConfig

from analysis.tables import table
from journeyforge.components import store_of, with_options
from journeyforge.stages.common import StageError, attempt_folder, check_explore_task, check_replaceable, start_run
from journeyforge.stages.run_parts import RunParts
from training.sft_settings import SFTSettings, TrainSettings
from training.sft import SETTINGS_FILE, check_dataset, read_sft_record, train_sft
from training.student import StudentError


def data_digest(split_dir: Path) -> str:
    """sha256 of a saved split's data files: equal digests mean equal training data.

    Only `data-*.arrow` (what `save_to_disk` writes): training adds `cache-*.arrow` files beside them.
    """
    digest = hashlib.sha256()
    for path in sorted(split_dir.glob("data-*.arrow")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def train_adapter(store, cfg: DictConfig, data: Path, out: Path, sft: SFTSettings, force: bool,
                  run_name: str) -> dict:
    """Train one adapter on the dataset `data` into `out`, unless the adapter there was trained
    with the same settings on the same data (then its recorded summary is returned)."""
    digest = data_digest(data / "train")
    record = read_sft_record(str(out))
    if (not force and record and record.get("data_sha256") == digest
            and record.get("settings") == asdict(sft)):
        print(f"[train] {run_name}: adapter in {out} is up to date (same data and settings); train.force=true retrains")
        return {**record["summary"], "output_dir": str(out), "reused": True}
    if sft.scratch:  # a student that cannot hold the data stops here, before a run is recorded
        try:
            check_dataset(str(data), sft.student)
        except StudentError as err:
            raise StageError(str(err)) from None
    check_replaceable(out, SETTINGS_FILE, "train.dir")  # never replace a folder no training wrote
    run_id = start_run(store, cfg, "train", name=run_name)
    # Trained into a folder of its own that replaces `out` only when complete: a failed re-train leaves
    # the finished adapter (and its run row) as they were (journeyforge/stages/common.py).
    with attempt_folder(out, SETTINGS_FILE, "train.dir") as work:
        res = {**train_sft(str(data), str(work), sft), "output_dir": str(out)}
        record = read_sft_record(str(work)) or {}
        record["summary"] = {**record.get("summary", {}), "output_dir": str(out)}
        (work / SETTINGS_FILE).write_text(json.dumps({**record, "data_sha256": digest}, indent=2))
    store.finish_run(run_id, "done", {k: v for k, v in res.items() if isinstance(v, (int, float, str))})
    return res


def run(cfg: DictConfig) -> dict:
    """Train one model per kind of run `cfg.name`, every setting checked first (`run_with`)."""
    return run_with(RunParts.of(cfg))


def sft_settings(train: TrainSettings) -> SFTSettings:
    """The SFT part of the train stage's settings (TrainSettings adds only which kinds, where and
    whether to force), checked."""
    sft = with_options(train, {}, "train", SFTSettings)
    sft.validate()
    return sft


def run_with(parts: RunParts) -> dict:
    """One SFT (`parts.train`) per kind to train, on the export in `parts.export.dir`, into `parts.train.dir`."""
    cfg = parts.cfg
    store = store_of(parts.store)
    check_explore_task(store, cfg)  # the datasets of `name` come from its explore run's trees
    kinds, out_root, force = parts.kinds_to_train(), Path(parts.train.dir), parts.train.force
    sft = sft_settings(parts.train)
    results = {}
    for kind in kinds:
        data = Path(parts.export.dir) / "sft" / kind
        if not data.exists():
            raise StageError(f"no exported dataset {data}; run `journeyforge export name={cfg.name}` first")
        results[kind] = train_adapter(store, cfg, data, out_root / kind, sft, force, f"{cfg.name}/{kind}")
    print(table(["kind", "examples", "steps", "first loss", "last loss", "seconds", "tokens/s", "adapter"],
                [[k, r["examples"], r["steps"], r["first_loss"], r["last_loss"], round(r["seconds"], 1),
                  r.get("tokens_per_s", ""), r["output_dir"]] for k, r in results.items()],
                title="[train] SFT from scratch" if sft.scratch else "[train] LoRA SFT"))
    return results
