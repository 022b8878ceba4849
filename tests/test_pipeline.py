"""The stages end to end through Hydra configs, real SQLite stores and real models."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from db import TraceStore
from journeyforge.cli import CONF_DIR
from journeyforge.stages import evaluate, explore, export, linearize, train


def _cfg(overrides: list[str]):
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        return compose(config_name="config", overrides=overrides)


def _common(tmp_path: Path, model: str, name: str = "t") -> list[str]:
    return [
        f"name={name}", f"workdir={tmp_path / 'out'}", f"store.url=sqlite:///{tmp_path / 'traces.db'}",
        f"policy.model={model}", "explore.progress=false",
        "train.max_steps=1", "train.per_device_train_batch_size=2",
        "eval.n_problems=2", "eval.max_tokens=8",
    ]


def test_hf_backend_explores_with_a_tiny_random_model(tmp_path, tiny_model_dir):
    cfg = _cfg(_common(tmp_path, str(tiny_model_dir)) + [
        "task.n_train=3", "task.n_test=1", "search.k=2", "search.max_expansions=2", "search.max_children=2"])
    out = explore.run(cfg)
    assert out["trees"] == out["trees_done"] == 3
    store = TraceStore(cfg.store.url)
    rows = [r for t in store.trees(out["run_id"]) for r in store.nodes(t["id"])]
    steps = [r for r in rows if r["parent_id"] is not None]
    assert len(steps) >= 3
    # Every generated step carries what the hf backend returned.
    for r in steps:
        assert r["token_ids"] and r["finish_reason"] in ("stop", "length")
        assert r["logprob"] is not None and r["logprob"] <= 0.0
        assert r["label"] in ("valid", "invalid", "dead_end", "solution")
        if r["label"] == "invalid":
            assert r["reason"]


@pytest.mark.slow
def test_real_default_model_grows_solved_trees_and_the_chain_trains_and_evaluates(tmp_path, default_model_dir,
                                                                                   tiny_model_dir):
    """SmolLM2-135M explores easy problems from a file; a tiny model keeps train and eval fast."""
    problems = tmp_path / "easy.jsonl"
    rows = [([1, 2, 3], 6, "train"), ([2, 3, 4], 9, "train"), ([3, 4, 5], 12, "train"), ([2, 5, 6], 13, "train"),
            ([1, 3, 5], 9, "test"), ([2, 2, 3], 7, "test")]
    problems.write_text("".join(json.dumps({"nums": n, "target": t, "split": s}) + "\n" for n, t, s in rows))
    base = _common(tmp_path, "smollm2-135m") + [
        "task.source=file", f"task.path={problems}", "search.k=4", "search.max_expansions=8", "seed=1"]
    out = explore.run(_cfg(base))
    assert out["trees"] == out["trees_done"] == 4
    assert out["solved"] >= 1, out
    assert out["labels"]["invalid"] + out["labels"].get("dead_end", 0) >= 1

    tiny = [o for o in base if not o.startswith("policy.model=")] + [f"policy.model={tiny_model_dir}"]
    lin = linearize.run(_cfg(tiny + ["linearize=matched"]))
    assert lin["trajectories"]["shortcut"] == out["solved"]
    store = TraceStore(_cfg(tiny).store.url)
    for row in store.trajectories(run_id=lin["run_id"]):
        assert row["is_correct"] and row["answer"] and row["text"].endswith("</answer>")
        if row["kind"] == "shortcut":
            assert row["n_backtracks"] == 0
        elif row["kind"] == "journey":  # the pipeline's recipe: 0, 1 or 2 backtracks (LinearizeSettings)
            assert row["n_backtracks"] in (0, 1, 2)

    exp = export.run(_cfg(tiny + ["linearize=matched"]))
    assert Path(exp["dir"], "sft", "shortcut").exists() and Path(exp["dir"], "README.md").exists()
    tr = train.run(_cfg(tiny + ["linearize=matched"]))
    assert set(tr) == {"shortcut", "journey"} if lin["trajectories"].get("journey") else {"shortcut"}
    for res in tr.values():
        assert res["steps"] == 1 and Path(res["output_dir"], "adapter_config.json").exists()
    ev = evaluate.run(_cfg(tiny + ["linearize=matched"]))
    models = {r["model"] for r in ev["rows"]}
    assert models == {"base", *tr}
    assert len(ev["rows"]) == 2 * len(models)  # two held-out problems per model
    assert "accuracy" in ev["table"]


def test_multirun_over_linearize_kinds_shares_one_store(tmp_path, tiny_model_dir):
    """`journeyforge run -m linearize=shortcut,journey`: both jobs read the same explored trees."""
    common = _common(tmp_path, str(tiny_model_dir), name="mr") + ["task.n_train=6", "task.n_test=2"]
    # Trees grown by the scripted policy (the tiny random model solves nothing) under the same name.
    explore.run(_cfg([o for o in common if not o.startswith("policy.model=")] + ["policy=scripted"]))
    env = dict(os.environ, ONEDNN_MAX_CPU_ISA="AVX512_CORE_BF16", HYDRA_FULL_ERROR="1")
    proc = subprocess.run([sys.executable, "-m", "journeyforge.cli", "run", "-m", "linearize=shortcut,journey",
                           *common, f"hydra.sweep.dir={tmp_path / 'sweep'}"],
                          capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    store = TraceStore(f"sqlite:///{tmp_path / 'traces.db'}")
    assert len([r for r in store.runs() if r["stage"] == "explore"]) == 1
    lin = store.get_run("mr", "linearize")
    kinds = {r["kind"] for r in store.trajectories(run_id=lin["id"])}
    assert kinds == {"shortcut", "journey"}
    ev = store.get_run("mr", "eval")
    assert {r["model"] for r in store.evals(ev["id"])} == {"base", "shortcut", "journey"}
    assert (tmp_path / "out" / "models" / "shortcut").exists() and (tmp_path / "out" / "models" / "journey").exists()


def test_train_stage_skips_an_up_to_date_adapter_and_force_retrains(tmp_path, tiny_model_dir):
    common = _common(tmp_path, str(tiny_model_dir), name="tr") + ["task.n_train=6", "task.n_test=2",
                                                                  "linearize=shortcut"]
    explore.run(_cfg([o for o in common if not o.startswith("policy.model=")] + ["policy=scripted"]))
    linearize.run(_cfg(common))
    export.run(_cfg(common))
    first = train.run(_cfg(common))["shortcut"]
    adapter = Path(first["output_dir"]) / "adapter_model.safetensors"
    stamp = adapter.stat().st_mtime_ns
    again = train.run(_cfg(common))["shortcut"]
    assert adapter.stat().st_mtime_ns == stamp            # not retrained
    assert again["last_loss"] == first["last_loss"]
    train.run(_cfg(common + ["train.learning_rate=1e-3"]))  # other settings: retrained
    assert adapter.stat().st_mtime_ns != stamp
    stamp = adapter.stat().st_mtime_ns
    train.run(_cfg(common + ["train.learning_rate=1e-3", "train.force=true"]))
    assert adapter.stat().st_mtime_ns != stamp
