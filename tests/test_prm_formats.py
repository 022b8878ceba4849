"""The stepwise rows as Math-Shepherd's step-tagged text and as OpenRLHF's PRM rows, read back the
way those trainers read them."""
from __future__ import annotations

from datasets import Dataset, DatasetDict

from traces.prm_formats import TAG, prm_formats

STEPWISE = DatasetDict({
    "train": Dataset.from_list([{"prompt": "Use 3, 4, 5 to make 12.", "completions": ["3 + 4 = 7", "7 * 5 = 35"],
                                 "labels": [True, False], "values": [1.0, 0.0], "tree_id": 1, "problem": "p1"}]),
    "test": Dataset.from_list([{"prompt": "Use 1, 2 to make 3.\n", "completions": [f"1 + 2 = 3 {TAG}"],
                                "labels": [True], "values": [1.0], "tree_id": 2, "problem": "p2"}]),
})


def test_math_shepherd_rows_tag_each_step_and_label_the_tags():
    shepherd = prm_formats(STEPWISE)["prm_shepherd"]
    row = shepherd["train"][0]
    assert row["input"] == f"Use 3, 4, 5 to make 12.\n3 + 4 = 7 {TAG}\n7 * 5 = 35 {TAG}\n"
    assert row["label"] == "Use 3, 4, 5 to make 12.\n3 + 4 = 7 +\n7 * 5 = 35 -\n"
    # A tag the model wrote inside a step is taken out, so tags and steps stay one to one.
    assert shepherd["test"][0]["input"].count(TAG) == 1 and shepherd["test"][0]["label"].endswith("3 +\n")


def test_openrlhf_rows_give_one_reward_token_per_placeholder_as_its_dataset_reads_them(default_model_dir):
    from transformers import AutoTokenizer

    rows = prm_formats(STEPWISE)["prm_openrlhf"]["train"]
    assert rows[0]["value"] == ["+", "-"]
    # OpenRLHF's ProcessRewardDataset: the placeholder must be one token (train_prm adds it), and the
    # labels are put at the placeholder positions, one per label.
    tok = AutoTokenizer.from_pretrained(default_model_dir)
    tok.add_special_tokens({"additional_special_tokens": [TAG]})
    placeholder = tok.convert_tokens_to_ids(TAG)
    ids = tok(rows[0]["input"], add_special_tokens=False)["input_ids"]
    assert ids.count(placeholder) == len(rows[0]["value"])
