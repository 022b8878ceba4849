"""A real GRPO step (TRL) from an SFT adapter on a tiny model, and the rl stage between train and eval."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from db import TraceStore
from journeyforge.cli import CONF_DIR
from search.tasks import make_task
from search.tasks.base import Problem
from training.sft_settings import SFTSettings
from training.grpo import CURVES_FILE, METRICS_FILE, read_rl_record, train_grpo
from training.rl_settings import RLSettings
from training.sft import train_sft
from traces.rl_prompts import build_rl_prompts

pytestmark = pytest.mark.slow

TASK = make_task({"name": "countdown"})
PROBLEM = Problem(key="1,2->3", payload={"nums": [1, 2], "target": 3}, answer="1 + 2")
# Answers alone, no reasoning: short enough that the tiny model learns both exactly in a few dozen
# steps (with a <think> frame around them it samples garbled text that states neither).
RIGHT = "<answer>1 + 2</answer>"
WRONG = "<answer>1 * 2</answer>"


def adapter_tensors(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path / "adapter_model.safetensors"))


@pytest.fixture(scope="module")
def two_minded_model(tmp_path_factory, tiny_model_dir) -> Path:
    """The tiny random model tuned (every weight) on one question with a right and a wrong answer, so
    that it samples both: a random model never writes an answer, and GRPO learns nothing from a group
    whose rewards are all equal (its advantages are zero)."""
    from datasets import Dataset, DatasetDict

    root = tmp_path_factory.mktemp("two-minded")
    rows = [{"prompt": TASK.question(PROBLEM), "completion": c} for c in (RIGHT, WRONG)] * 4
    DatasetDict({"train": Dataset.from_list(rows)}).save_to_disk(str(root / "data"))
    settings = SFTSettings(model=str(tiny_model_dir), lora=False, max_steps=80, per_device_train_batch_size=8,
                           learning_rate=3e-2, max_length=64, logging_steps=20)
    train_sft(str(root / "data"), str(root / "model"), settings)
    return root


def test_one_grpo_step_from_an_sft_adapter_changes_it_with_finite_reward_and_loss(two_minded_model, tmp_path):
    # The SFT adapter RL starts from: one LoRA step on the same rows, with its training record.
    sft = tmp_path / "sft"
    train_sft(str(two_minded_model / "data"), str(sft),
              SFTSettings(model=str(two_minded_model / "model"), max_steps=1, per_device_train_batch_size=2,
                          lora_r=4, lora_alpha=8, max_length=64))
    before = adapter_tensors(sft)
    data = build_rl_prompts([PROBLEM], TASK, {PROBLEM.key: "train"})["train"]
    settings = RLSettings(init="shortcut", max_steps=1, num_generations=8, per_device_train_batch_size=8,
                          max_completion_length=16, temperature=0.7, learning_rate=1e-2, beta=0.04)

    out = tmp_path / "rl-shortcut"
    summary = train_grpo(data, TASK, out, settings, str(two_minded_model / "model"), str(sft), "prompt_completion")

    assert summary["steps"] == 1 and summary["problems"] == 1
    rows = [json.loads(line) for line in (out / METRICS_FILE).read_text().splitlines()]
    assert len(rows) == 1
    row = rows[0]
    for key in ("reward", "accuracy", "format", "kl", "completion_length", "loss"):
        assert row[key] is not None and math.isfinite(row[key]), (key, row)
    # Both answers were sampled: some completions verified, some not, so the advantages are not zero.
    assert 0.0 < row["accuracy"] < 1.0, row
    assert row["reward"] == pytest.approx(row["accuracy"] + 0.1 * row["format"], abs=1e-5)
    after = adapter_tensors(out)
    assert set(after) == set(before)  # the same adapter, trained further (TRL's frozen "ref" copy not saved)
    changed = [k for k in before if not (before[k] == after[k]).all()]
    assert changed, "GRPO step left every adapter weight unchanged"
    assert not (out / "ref").exists()
    record = read_rl_record(out)
    assert record["base_model"] == str(two_minded_model / "model") and record["prompt_style"] == "prompt_completion"
    assert record["init_adapter"] == str(sft)
    assert (out / CURVES_FILE).stat().st_size > 1000


# ------------------------------------------------------------------------------- the stage


def _cfg(overrides: list[str]):
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        return compose(config_name="config", overrides=overrides)


def test_rl_stage_trains_from_the_sft_adapter_and_eval_lists_it(tmp_path, tiny_model_dir):
    from journeyforge.stages import evaluate, explore, export, linearize, rl, train

    common = [
        "name=t", f"workdir={tmp_path / 'out'}", f"store.url=sqlite:///{tmp_path / 'traces.db'}",
        f"policy.model={tiny_model_dir}", "explore.progress=false", "task.n_train=6", "task.n_test=2",
        "linearize=shortcut", "train.max_steps=1", "train.per_device_train_batch_size=2",
        "eval.n_problems=2", "eval.max_tokens=8",
        "rl.init=shortcut", "rl.max_steps=1", "rl.num_generations=2", "rl.per_device_train_batch_size=2",
        "rl.max_completion_length=8",
    ]
    # Trees grown by the scripted policy (the tiny random model solves nothing) under the same name.
    explore.run(_cfg([o for o in common if not o.startswith("policy.model=")] + ["policy=scripted"]))
    linearize.run(_cfg(common))
    exported = export.run(_cfg(common))
    assert set(exported["configs"]["rl"]) == {"train", "test"}
    assert sum(exported["configs"]["rl"].values()) == 6  # every training problem, solved or not
    train.run(_cfg(common))

    res = rl.run(_cfg(common))
    out = tmp_path / "out" / "models" / "rl-shortcut"
    assert res["output_dir"] == str(out) and res["steps"] == 1
    assert (out / "adapter_model.safetensors").exists() and (out / CURVES_FILE).exists()
    store = TraceStore(f"sqlite:///{tmp_path / 'traces.db'}")
    run = store.get_run("t/rl-shortcut", "rl")
    assert run["status"] == "done" and run["stats"]["steps"] == 1 and "mean_reward" in run["stats"]
    assert run["config"]["rl"]["init"] == "shortcut"

    stamp = (out / "adapter_model.safetensors").stat().st_mtime_ns
    again = rl.run(_cfg(common))  # same start, prompts and settings: not trained again
    assert (out / "adapter_model.safetensors").stat().st_mtime_ns == stamp and again["steps"] == 1

    ev = evaluate.run(_cfg(common))
    assert {r["model"] for r in ev["rows"]} == {"base", "shortcut", "rl-shortcut"}
    assert "rl-shortcut" in ev["table"]


def test_rl_stage_without_the_sft_adapter_says_what_to_run(tmp_path):
    from journeyforge.stages import rl
    from journeyforge.stages.common import StageError

    (tmp_path / "out" / "datasets" / "shortcut" / "rl").mkdir(parents=True)
    cfg = _cfg(["name=t", f"workdir={tmp_path / 'out'}", f"store.url=sqlite:///{tmp_path / 'traces.db'}",
                "linearize=shortcut", "rl.init=shortcut"])
    with pytest.raises(StageError, match="rl.init=shortcut: no SFT adapter .* run `journeyforge train name=t`"):
        rl.run(cfg)
