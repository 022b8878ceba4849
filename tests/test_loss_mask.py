"""`train.mask_mistakes`: the masked tokens are exactly a journey's mistaken steps (and, with
`mask_reflections`, its reflections), tokenized as TRL tokenizes prompt/completion rows."""
from __future__ import annotations

import pytest

from tests.linearize_trees import countdown_task, tree_1357
from traces.journey import JourneyConfig, linearize_journey
from training.sft_settings import SFTSettings
from training.masking import masked_roles, tokenize_with_mask

TASK = countdown_task()


@pytest.fixture(scope="module")
def tokenizer(default_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(default_model_dir)


def _kept_and_masked(tokenizer, roles):
    [traj] = linearize_journey(tree_1357(), TASK, JourneyConfig(select="plausible", seed=2))
    prompt = "Use 1, 3, 5, 7 to make 22.\n"
    out = tokenize_with_mask(tokenizer, prompt, traj["text"], traj["spans"], roles)
    ids, mask = out["input_ids"], out["completion_mask"]
    n_prompt = len(tokenizer(prompt)["input_ids"])
    assert mask[:n_prompt] == [0] * n_prompt
    masked = tokenizer.decode([t for t, m in zip(ids[n_prompt:], mask[n_prompt:]) if not m])
    kept = tokenizer.decode([t for t, m in zip(ids, mask) if m])
    return traj, kept, masked, ids


def test_mistakes_are_masked_and_everything_else_is_kept(tokenizer):
    traj, kept, masked, ids = _kept_and_masked(tokenizer, masked_roles(True, False))
    for wrong in ("7 - 1 = 6", "15 - 1 = 14", "22 - 1 = 21"):
        assert wrong in masked and wrong not in kept
    for right in ("3 * 5 = 15", "15 + 7 = 22", "22 * 1 = 22", "<answer>"):
        assert right in kept
    assert "cannot make 22" in kept and "1, 3, 5, 7." in kept  # reflection and return stay in the loss
    assert ids[-1] == tokenizer.eos_token_id  # as TRL adds it


def test_mask_reflections_also_masks_the_reflection_lines(tokenizer):
    _, kept, masked, _ = _kept_and_masked(tokenizer, masked_roles(True, True))
    assert "cannot make 22" in masked and "1, 3, 5, 7." in masked
    assert "cannot make 22" not in kept and "1, 3, 5, 7" not in kept
    assert "15 + 7 = 22" in kept


def test_masking_needs_prompt_completion_rows():
    with pytest.raises(ValueError, match="train.mask_mistakes.*prompt_completion"):
        SFTSettings(mask_mistakes=True, format="messages").validate()
