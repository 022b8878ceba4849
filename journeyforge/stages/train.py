"""train: one LoRA SFT (TRL) per trajectory kind on the exported `sft/<kind>` dataset."""
from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from journeyforge.components import open_store, settings
from journeyforge.report import table
from journeyforge.stages.common import StageError, start_run
from training.config import SFTSettings
from training.sft import train_sft


def run(cfg: DictConfig) -> dict:
    store = open_store(cfg)
    node = OmegaConf.to_container(cfg.train, resolve=True)
    kinds, out_root = node.pop("kinds"), Path(node.pop("dir"))
    sft = settings(SFTSettings, node)
    sft.validate()
    results = {}
    for kind in kinds:
        data = Path(cfg.export.dir) / "sft" / kind
        if not data.exists():
            raise StageError(f"no exported dataset {data}; run `journeyforge export name={cfg.name}` first")
        run_id = start_run(store, cfg, "train", name=f"{cfg.name}/{kind}")
        res = train_sft(str(data), str(out_root / kind), sft)
        store.finish_run(run_id, "done", {k: v for k, v in res.items() if isinstance(v, (int, float, str))})
        results[kind] = res
    print(table(["kind", "examples", "steps", "first loss", "last loss", "seconds", "adapter"],
                [[k, r["examples"], r["steps"], r["first_loss"], r["last_loss"], round(r["seconds"], 1),
                  r["output_dir"]] for k, r in results.items()], title="[train] LoRA SFT"))
    return results
