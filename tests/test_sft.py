"""SFT on an exported-style dataset with a real TRL trainer and the tiny random model."""
from __future__ import annotations

import math

import pytest

from search.tasks.countdown.task import CountdownTask
from training.sft_settings import SFTSettings
from training.sft import build_trainer, load_train_split, read_sft_record, train_sft

pytestmark = pytest.mark.slow

render_completion = CountdownTask().render_completion

ROWS = [
    (
        [3, 5, 7], 22, ["3 * 5 = 15. Left: 7, 15", "15 + 7 = 22. Left: 22"], "(3 * 5) + 7",
    ),
    (
        [2, 4, 9], 17, ["2 * 4 = 8. Left: 8, 9", "8 + 9 = 17. Left: 17"], "(2 * 4) + 9",
    ),
    (
        [28, 18, 5], 15, ["28 - 18 = 10. Left: 5, 10", "10 + 5 = 15. Left: 15"], "(28 - 18) + 5",
    ),
]


def export_like_dataset(path, rows=ROWS, copies=1):
    """A DatasetDict with the exported columns (what traces/export writes), saved to `path`."""
    from datasets import Dataset, DatasetDict

    records = []
    for i, (nums, target, steps, answer) in enumerate(rows * copies):
        question = f"Numbers: {', '.join(map(str, nums))}\nTarget: {target}\n"
        completion = render_completion(steps, answer)
        records.append({
            "messages": [
                {"role": "user", "content": "Use every number once to reach the target.\n" + question},
                {"role": "assistant", "content": completion},
            ],
            "prompt": question,
            "completion": completion,
            "kind": "shortcut",
            "tree_id": i,
            "problem": f"{','.join(map(str, sorted(nums)))}->{target}",
            "answer": answer,
            "n_steps": len(steps),
            "n_backtracks": 0,
        })
    DatasetDict({"train": Dataset.from_list(records), "test": Dataset.from_list(records[:1])}).save_to_disk(str(path))
    return path


def tiny_settings(model_dir, **overrides) -> SFTSettings:
    base = dict(model=str(model_dir), max_steps=2, per_device_train_batch_size=2, max_length=128, lora_r=4,
                lora_alpha=8)
    base.update(overrides)
    return SFTSettings(**base)


def test_prompt_completion_sft_saves_adapter_with_finite_loss(tmp_path, tiny_model_dir):
    data = export_like_dataset(tmp_path / "data")
    out = tmp_path / "adapter"
    summary = train_sft(str(data), str(out), tiny_settings(tiny_model_dir))

    assert summary["steps"] == 2
    assert summary["examples"] == 3
    assert summary["loss_mode"] == "completion_only"
    assert math.isfinite(summary["first_loss"]) and math.isfinite(summary["last_loss"])
    assert math.isfinite(summary["train_loss"]) and summary["train_loss"] > 0
    assert (out / "adapter_config.json").exists()
    assert (out / "adapter_model.safetensors").exists()
    assert (out / "tokenizer_config.json").exists()
    record = read_sft_record(str(out))
    assert record["settings"]["format"] == "prompt_completion"
    assert record["base_model"] == str(tiny_model_dir)


def test_collator_masks_prompt_tokens_so_loss_is_on_completion_only(tmp_path, tiny_model_dir):
    from transformers import AutoTokenizer

    data = export_like_dataset(tmp_path / "data")
    trainer, loss_mode = build_trainer(str(data), str(tmp_path / "out"), tiny_settings(tiny_model_dir))
    assert loss_mode == "completion_only"
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)

    examples = [trainer.train_dataset[i] for i in range(len(trainer.train_dataset))]
    batch = trainer.data_collator(examples)
    for row, (nums, target, steps, answer) in enumerate(ROWS):
        prompt = f"Numbers: {', '.join(map(str, nums))}\nTarget: {target}\n"
        completion = render_completion(steps, answer)
        n_prompt = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
        n_completion = len(tokenizer(completion, add_special_tokens=False)["input_ids"])
        labels = batch["labels"][row]
        input_ids = batch["input_ids"][row]
        assert (labels[:n_prompt] == -100).all(), "prompt tokens must not carry loss"
        span = slice(n_prompt, n_prompt + n_completion)
        assert (labels[span] == input_ids[span]).all(), "completion tokens must carry loss"
        # The trainer appends EOS to the completion so the tuned model learns to stop.
        assert labels[n_prompt + n_completion].item() == tokenizer.eos_token_id


def test_messages_sft_trains_on_chat_template_and_reports_loss_mode(tmp_path, tiny_model_dir):
    data = export_like_dataset(tmp_path / "data")
    out = tmp_path / "adapter"
    settings = tiny_settings(tiny_model_dir, format="messages")
    trainer, loss_mode = build_trainer(str(data), str(out), settings)
    # SmolLM2's ChatML template has no {% generation %} markers and TRL ships no patch for it.
    assert loss_mode == "full_sequence"
    batch = trainer.data_collator([trainer.train_dataset[0]])
    text = trainer.processing_class.decode(batch["input_ids"][0])
    assert text.startswith("<|im_start|>") and "<|im_start|>assistant\n<think>" in text

    summary = train_sft(str(data), str(out), settings)
    assert summary["steps"] == 2 and math.isfinite(summary["last_loss"])
    assert (out / "adapter_model.safetensors").exists()
    assert read_sft_record(str(out))["settings"]["format"] == "messages"


def test_missing_column_error_names_dataset_split_and_column(tmp_path):
    from datasets import Dataset, DatasetDict

    path = tmp_path / "data"
    DatasetDict({"train": Dataset.from_list([{"prompt": "a", "kind": "shortcut"}])}).save_to_disk(str(path))
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['completion'\].*train.format='prompt_completion'"):
        load_train_split(str(path), "prompt_completion")


def test_unknown_format_is_rejected_with_option_name(tmp_path, tiny_model_dir):
    data = export_like_dataset(tmp_path / "data")
    with pytest.raises(ValueError, match="train.format must be one of"):
        train_sft(str(data), str(tmp_path / "out"), tiny_settings(tiny_model_dir, format="text"))
