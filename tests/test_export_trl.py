"""Exported configurations go into TRL trainers as-is: one real optimisation step each."""
from __future__ import annotations

import pytest
from datasets import load_from_disk

from tests.test_export import TASK, many_trees
from traces.export import write_export

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    rows, graphs = many_trees(4)
    out = tmp_path_factory.mktemp("export") / "out"
    write_export(rows, graphs, out, TASK, {"export": {"test_fraction": 0.25, "seed": 0}})
    return out


def _args(config_cls, tmp_path, **extra):
    return config_cls(
        output_dir=str(tmp_path / "ckpt"), max_steps=1, per_device_train_batch_size=2, use_cpu=True,
        report_to=[], save_strategy="no", logging_steps=1, learning_rate=1e-3, **extra,
    )


def _weights(model):
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def _changed(before, model):
    return any(not before[n].equal(p.detach()) for n, p in model.named_parameters())


def test_sft_trainer_takes_prompt_completion_rows_with_completion_only_loss(export_dir, tiny_model_dir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    data = load_from_disk(str(export_dir / "sft" / "journey"))["train"].select_columns(["prompt", "completion"])
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    before = _weights(model)
    trainer = SFTTrainer(model=model, args=_args(SFTConfig, tmp_path, completion_only_loss=True, max_length=256),
                         train_dataset=data, processing_class=AutoTokenizer.from_pretrained(tiny_model_dir))
    # completion-only: the prompt's tokens are masked out of the loss.
    batch = trainer.data_collator([trainer.train_dataset[0]])
    assert (batch["labels"][0] == -100).sum() > 0 and (batch["labels"][0] != -100).sum() > 0
    result = trainer.train()
    assert result.global_step == 1 and result.training_loss > 0
    assert _changed(before, trainer.model)


def test_sft_trainer_takes_messages_rows(export_dir, tiny_model_dir, tmp_path):
    from transformers import AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    data = load_from_disk(str(export_dir / "sft" / "shortcut"))["train"].select_columns(["messages"])
    trainer = SFTTrainer(model=str(tiny_model_dir), args=_args(SFTConfig, tmp_path, max_length=256),
                         train_dataset=data, processing_class=AutoTokenizer.from_pretrained(tiny_model_dir))
    assert trainer.train().global_step == 1


def test_dpo_trainer_takes_preference_rows(export_dir, tiny_model_dir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    data = load_from_disk(str(export_dir / "preference"))["train"]
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    before = _weights(model)
    trainer = DPOTrainer(model=model, args=_args(DPOConfig, tmp_path, max_length=128), train_dataset=data,
                         processing_class=AutoTokenizer.from_pretrained(tiny_model_dir))
    result = trainer.train()
    assert result.global_step == 1 and result.training_loss > 0
    assert _changed(before, trainer.model)


def test_card_lengths_use_the_policy_tokenizer(tiny_model_dir, tmp_path):
    from transformers import AutoTokenizer

    from traces.trajectory_stats import hf_token_counter

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    rows, graphs = many_trees(2)
    summary = write_export(rows, graphs, tmp_path / "out", TASK, {}, count_tokens=hf_token_counter(tokenizer))
    shortcut_tokens = len(tokenizer(rows[0]["text"], add_special_tokens=False)["input_ids"])
    assert shortcut_tokens > len(rows[0]["text"].split())  # really subword tokens, not words
    assert f"| shortcut | 2 | {float(shortcut_tokens)} |" in summary["stats_table"]
    assert "mean tokens" in (tmp_path / "out" / "README.md").read_text()
