"""Evaluation through the real HF policy and the Countdown verifier, and the train -> eval path."""
from __future__ import annotations

import json

import pytest

from search.policies.base import Completion
from search.tasks import make_task
from search.tasks.base import Problem
from training.sft_settings import SFTSettings
from training.answer_eval import (
    accuracy_table,
    evaluate_models,
    majority_answer,
    prompt_style,
    score,
)
from training.sft import SETTINGS_FILE, train_sft

ROW_KEYS = {"model", "problem_id", "prediction", "answer", "is_correct", "n_tokens", "prompt_style"}


@pytest.fixture(scope="module")
def task():
    return make_task({"name": "countdown", "n_train": 4, "n_test": 3, "seed": 0})


@pytest.fixture(scope="module")
def held_out(task):
    return [p for p in task.load_problems() if p.split == "test"][:2]


def done(text: str) -> Completion:
    """A completion as the policy returns it when it stopped at `</answer>` (stop string cut off)."""
    return Completion(text=text, token_ids=list(range(7)), logprob=-3.0, finish_reason="stop")


@pytest.mark.slow
def test_untrained_tiny_model_scores_zero_with_complete_rows(tiny_model_dir, task, held_out):
    rows = evaluate_models([("base", str(tiny_model_dir), None)], held_out, task, max_tokens=12, samples=2)

    assert len(rows) == len(held_out)
    assert [r["problem_id"] for r in rows] == [p.key for p in held_out]
    for row in rows:
        assert ROW_KEYS | {"samples", "n_correct_samples", "maj_correct", "pass_correct"} <= set(row)
        assert row["model"] == "base" and row["prompt_style"] == "fewshot"
        assert row["is_correct"] is False and row["pass_correct"] is False and row["maj_correct"] is False
        assert 0 < row["n_tokens"] <= 12
        assert isinstance(row["prediction"], str) and row["prediction"]
    table = accuracy_table(rows)
    base_line = table.splitlines()[1].split()
    assert base_line == ["base", "2", "0", "0.0", base_line[4], "0.0", "0.0"]
    assert "maj@2%" in table and "pass@2%" in table


def test_accuracy_table_counts_verified_answers_as_correct(task, held_out):
    good, bad = held_out
    rows = []
    for problem, text in [(good, f"<think>\n</think>\n<answer>{good.answer}"),
                          (bad, "<think>\n</think>\n<answer>1 + 1")]:
        prediction, answer, correct = score(task, problem, done(text))
        rows.append({"model": "tuned", "problem_id": problem.key, "prediction": prediction, "answer": answer,
                     "is_correct": correct, "n_tokens": 7})
    rows.append({"model": "base", "problem_id": good.key, "prediction": "", "answer": None,
                 "is_correct": False, "n_tokens": 160})

    assert rows[0]["answer"] == good.answer and rows[0]["is_correct"] is True
    assert rows[0]["prediction"].endswith("</answer>")
    assert rows[1]["is_correct"] is False
    lines = accuracy_table(rows).splitlines()
    assert lines[0].split() == ["model", "problems", "correct", "accuracy%", "mean_tokens"]
    assert lines[1].split() == ["tuned", "2", "1", "50.0", "7.0"]
    assert lines[2].split() == ["base", "1", "0", "0.0", "160.0"]


def full_text(completion: Completion) -> str:
    return make_task({"name": "countdown"}).close_answer(completion.text, completion.finish_reason)


def test_stop_string_is_put_back_only_when_an_answer_was_left_open():
    assert full_text(done("<answer>3 + 4")) == "<answer>3 + 4</answer>"
    # Cut by the length cap: the answer stays unfinished, so nothing is extracted.
    cut = Completion("<answer>3 + 4", [1], -1.0, "length")
    assert full_text(cut) == "<answer>3 + 4"
    assert full_text(done("no answer at all")) == "no answer at all"


def test_majority_vote_ignores_spacing_and_unparsed_answers():
    assert majority_answer(["1+2", None, "1 + 2", "2 + 1"]) == "1+2"
    assert majority_answer([None, None]) is None


def test_prompt_style_follows_the_training_record(tmp_path):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    with pytest.raises(ValueError, match="no training record"):
        prompt_style("smollm2-135m", str(adapter))
    (adapter / SETTINGS_FILE).write_text(json.dumps({"settings": {"format": "messages"}}))
    assert prompt_style("smollm2-135m", str(adapter)) == "messages"
    assert prompt_style("smollm2-135m", None) == "fewshot"
    assert prompt_style("smollm2-135m", str(adapter), "prompt_completion") == "prompt_completion"
    with pytest.raises(ValueError, match="prompt style must be one of"):
        prompt_style("smollm2-135m", None, "zero-shot")


@pytest.mark.slow
def test_model_trained_on_one_problem_then_solves_it(tmp_path, tiny_model_dir, task):
    from datasets import Dataset, DatasetDict

    problem = Problem(key="1,2->3", payload={"nums": [1, 2], "target": 3}, answer="1 + 2", split="test")
    completion = "<answer>1 + 2</answer>"
    row = {"prompt": task.question(problem), "completion": completion,
           "messages": [{"role": "user", "content": task.instructions(problem)},
                        {"role": "assistant", "content": completion}]}
    DatasetDict({"train": Dataset.from_list([row])}).save_to_disk(str(tmp_path / "data"))
    # The random 2-layer model has 32-dim embeddings: LoRA alone cannot sharpen its logits, so the
    # whole model is tuned here (LoRA's save/load path is covered in test_sft and the policy tests).
    settings = SFTSettings(model=str(tiny_model_dir), lora=False, max_steps=50, per_device_train_batch_size=1,
                           learning_rate=3e-2, max_length=64, logging_steps=10)
    summary = train_sft(str(tmp_path / "data"), str(tmp_path / "tuned"), settings)
    assert summary["last_loss"] < summary["first_loss"]

    models = [("base", str(tiny_model_dir), None), ("tuned", str(tmp_path / "tuned"), None)]
    rows = evaluate_models(models, [problem], task, max_tokens=16)

    base, tuned = rows
    assert tuned["prompt_style"] == "prompt_completion" and base["prompt_style"] == "fewshot"
    assert tuned["prediction"] == completion
    assert tuned["answer"] == "1 + 2" and tuned["is_correct"] is True
    assert base["is_correct"] is False
    assert accuracy_table(rows).splitlines()[2].split()[:4] == ["tuned", "1", "1", "100.0"]


@pytest.mark.slow
def test_lora_adapter_trained_on_messages_is_evaluated_with_the_chat_template(tmp_path, tiny_model_dir, task,
                                                                                held_out):
    from datasets import Dataset, DatasetDict

    problem = held_out[0]
    row = {"messages": [{"role": "user", "content": task.instructions(problem)},
                        {"role": "assistant", "content": f"<answer>{problem.answer}</answer>"}]}
    DatasetDict({"train": Dataset.from_list([row])}).save_to_disk(str(tmp_path / "data"))
    settings = SFTSettings(model=str(tiny_model_dir), format="messages", max_steps=1,
                           per_device_train_batch_size=1, lora_r=4, lora_alpha=8)
    train_sft(str(tmp_path / "data"), str(tmp_path / "adapter"), settings)

    from search.policies.hf import HFPolicy

    seen, prompts = [], []

    class RecordingHFPolicy(HFPolicy):
        def generate(self, requests):
            prompts.extend(r.prompt for r in requests)
            return super().generate(requests)

    def recording_factory(model, adapter):
        seen.append((model, adapter))
        return RecordingHFPolicy(model, adapter=adapter)

    rows = evaluate_models([("lora", str(tiny_model_dir), str(tmp_path / "adapter"))], [problem], task,
                           policy_factory=recording_factory, max_tokens=8)
    assert seen == [(str(tiny_model_dir), str(tmp_path / "adapter"))]
    assert rows[0]["prompt_style"] == "messages"
    assert prompts[0].startswith("<|im_start|>") and prompts[0].endswith("<|im_start|>assistant\n")
    assert task.question(problem).strip() in prompts[0]
    assert rows[0]["is_correct"] is False and 1 <= rows[0]["n_tokens"] <= 8
