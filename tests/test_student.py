"""Students trained from scratch: a tokenizer made for the task's text, a decoder built from a
transformers config, and the one-line refusals when a student cannot hold its data."""
from __future__ import annotations

import re

import pytest

from training.sft_settings import SFTSettings
from training.student import (StudentError, StudentSettings, _PIECES, build_model, build_tokenizer, check_examples,
                              unencodable)

STREAM = ("<think>\nCurrent State: 32:[2, 6, 8], Operations: []\n"
          "Exploring Operation: 8*2=16, Resulting Numbers: [6, 16]\n16,32 unequal: No Solution\n</think>\n"
          "<answer>(6 - 2) * 8</answer>")
PROMPT = "Numbers: 2, 6, 8\nTarget: 32\n"


def test_tokenizer_spells_numbers_digit_by_digit_and_keeps_the_grammar_words_whole():
    tok = build_tokenizer([PROMPT, STREAM])
    pieces = tok.convert_ids_to_tokens(tok(STREAM, add_special_tokens=False)["input_ids"])
    assert pieces[:12] == ["<", "think", ">", "\n", "Current", " State", ":", " 3", "2", ":", "[", "2"]
    assert " Operation" in pieces and "16" not in pieces
    assert tok.decode(tok(STREAM, add_special_tokens=False)["input_ids"]) == STREAM   # exact round trip
    # A held-out problem has other numbers: digits always encode.
    assert unencodable(tok, "Numbers: 91, 7, 45\nTarget: 1234\n") is None
    assert tok.chat_template is None and tok.eos_token == "[EOS]" and tok.pad_token_id != tok.eos_token_id


def test_tokenizer_refuses_what_its_training_texts_never_held():
    tok = build_tokenizer([PROMPT, STREAM])
    assert unencodable(tok, "Numbers: 2 \u00d7 3") == " \u00d7"
    assert unencodable(tok, "Backtracking to 3") == "Backtracking"


def test_the_vocabulary_is_split_as_the_tokenizer_splits():
    from tokenizers import Regex, pre_tokenizers

    split = pre_tokenizers.Split(Regex(_PIECES["words"]), behavior="isolated")
    assert [p for p, _ in split.pre_tokenize_str(STREAM)] == re.findall(_PIECES["words"], STREAM)


def test_chars_tokenizer_has_one_token_per_character():
    tok = build_tokenizer([PROMPT], kind="chars")
    assert len(tok(PROMPT, add_special_tokens=False)["input_ids"]) == len(PROMPT)


def test_phrases_tokenizer_merges_the_grammar_between_numbers_and_keeps_digits_single():
    texts = [PROMPT, STREAM] * 3
    tok = build_tokenizer(texts, kind="phrases", vocab_size=256)
    ids = tok(STREAM, add_special_tokens=False)["input_ids"]
    pieces = tok.convert_ids_to_tokens(ids)
    assert all(len(p.lstrip(" ")) == 1 for p in pieces if any(c.isdigit() for c in p))   # no merge spans a digit
    assert ", Resulting Numbers: [" in pieces                                  # a whole grammar phrase
    assert all("\n" not in p[:-1] for p in pieces)                            # a newline ends a piece
    words = build_tokenizer(texts)
    assert len(ids) < 0.75 * len(words(STREAM, add_special_tokens=False)["input_ids"])
    assert tok.decode(ids) == STREAM and len(tok) <= 256
    # Any text of known characters encodes (merged or not): another problem's numbers, a new phrase.
    assert unencodable(tok, "Numbers: 91, 7, 45\nTarget: 1234\nOperations: 45+7") is None
    assert unencodable(tok, "Numbers: 2 \u00d7 3") == "\u00d7"
    # The same texts in another order give the same tokenizer.
    assert build_tokenizer(texts[::-1], kind="phrases", vocab_size=256).get_vocab() == tok.get_vocab()


JOURNEY = ("<think>\n19 - 16 = 3. Left: 21, 3\n21 / 3 = 7. Left: 7\nThat doesn't work: 7 is not 63.\n"
           "I'll backtrack to 21, 3.\n21 * 3 = 63. Left: 63\n</think>\n<answer>21 * (19 - 16)</answer>")


def test_phrases_tokenizer_spells_a_number_the_same_whatever_phrase_comes_before_it():
    """The space before a number goes with its first digit (as in `words`), never into the phrase
    before it: the version that merged `I'll backtrack to ` and `. Left: ` whole left a number's first
    digit the same token as its others, and its cpu_lab journey students lost track of the numbers
    left (7.0% against 15.2%, docs/results/journey-tokenizer)."""
    prompt = "Numbers: 16, 19, 21\nTarget: 63\n"
    tok = build_tokenizer([prompt, JOURNEY] * 20, kind="phrases")
    pieces = tok.convert_ids_to_tokens(tok(JOURNEY, add_special_tokens=False)["input_ids"])
    assert pieces[pieces.index("I'll backtrack to"):][:5] == ["I'll backtrack to", " 2", "1", ",", " 3"]
    assert pieces[pieces.index(". Left:"):][:5] == [". Left:", " 2", "1", ",", " 3"]
    assert not any(p.endswith(" ") and len(p) > 1 for p in pieces)      # no phrase swallows a number's space
    assert "That doesn't work:" in pieces and " is not" in pieces        # the grammar is still merged
    assert tok.decode(tok(JOURNEY, add_special_tokens=False)["input_ids"]) == JOURNEY
    words = build_tokenizer([prompt, JOURNEY])
    number_starts = [p for p in words.convert_ids_to_tokens(words(JOURNEY, add_special_tokens=False)["input_ids"])
                     if p.startswith(" ") and p[1:].isdigit()]
    assert number_starts == [p for p in pieces if p.startswith(" ") and p[1:].isdigit()]   # as `words` marks them


def test_a_student_that_does_not_fit_its_context_names_the_example_and_its_length():
    tok = build_tokenizer([PROMPT, STREAM])
    rows = [(PROMPT, "<answer>(6 - 2) * 8</answer>"), (PROMPT, STREAM)]
    n = len(tok(PROMPT)["input_ids"]) + len(tok(STREAM)["input_ids"]) + 1
    assert check_examples(rows, tok, StudentSettings(context_length=n), "sft/stream") == n
    with pytest.raises(StudentError, match=rf"^train.student.context_length={n - 1} is shorter than sft/stream "
                                           rf"example 1 \(prompt \+ completion = {n} tokens\)"):
        check_examples(rows, tok, StudentSettings(context_length=n - 1), "sft/stream")
    with pytest.raises(StudentError, match=r"^sft/stream example 0: the student's tokenizer cannot encode ' \u00f7'"):
        check_examples([(PROMPT + "8 \u00f7 2", STREAM)], tok, StudentSettings(), "sft/stream")


def test_a_tokenizer_that_merges_across_the_end_of_the_prompt_is_refused():
    """TRL tokenizes prompt + completion together; a merge over the boundary would train tokens the
    student never sees when it continues a prompt."""
    prompt = "Numbers: 2, 6, 8\nTarget: 32 "          # a trailing space: ' <' is one words piece
    tok = build_tokenizer([prompt, STREAM])
    with pytest.raises(StudentError, match=r"^sft/x example 0: the student's tokenizer merges the end of the prompt"):
        check_examples([(prompt, STREAM)], tok, StudentSettings(context_length=2048), "sft/x")
    phrases = build_tokenizer([PROMPT, STREAM] * 3, kind="phrases")   # the prompt's newline ends a piece
    assert check_examples([(PROMPT, STREAM)], phrases, StudentSettings(context_length=2048), "sft/x") > 0


def test_student_model_is_built_from_its_config_for_the_tokenizer():
    tok = build_tokenizer([PROMPT, STREAM])
    for family in ("llama", "gpt2"):
        model = build_model(tok, StudentSettings(family=family, layers=1, width=16, heads=2, context_length=64))
        assert model.config.model_type == family and model.config.vocab_size == len(tok)
        assert 1_000 < sum(p.numel() for p in model.parameters() if p.requires_grad) < 20_000


@pytest.mark.parametrize("options,message", [
    ({"scratch": True}, "train.scratch=true trains every parameter of a new model: set train.lora=false"),
    ({"scratch": True, "lora": False, "format": "messages"}, "train.scratch=true needs train.format=prompt_completion"),
    ({"scratch": True, "lora": False, "student": StudentSettings(width=30, heads=4)},
     "train.student.width=30 must be a multiple of train.student.heads=4"),
    ({"scratch": True, "lora": False, "student": StudentSettings(family="mamba")}, "train.student.family must be one of"),
    ({"scratch": True, "lora": False, "student": StudentSettings(tokenizer="phrases", vocab_size=0)},
     "train.student.vocab_size must be an integer >= 1, got 0"),
])
def test_bad_student_settings_name_the_option(options, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        SFTSettings(**options).validate()


def test_eval_refuses_a_prompt_the_student_cannot_encode(tmp_path):
    import json
    from types import SimpleNamespace

    from search.tasks.base import Problem
    from training.answer_eval import check_student_prompts
    from training.sft import SETTINGS_FILE

    (tmp_path / SETTINGS_FILE).write_text(json.dumps({"settings": {"scratch": True, "format": "prompt_completion"}}))
    policy = SimpleNamespace(tokenizer=build_tokenizer([PROMPT, STREAM]))   # what eval reads of the loaded model
    problems = [Problem(key="2,6,8->32", payload={}), Problem(key="3,5->15", payload={})]
    check_student_prompts("stream/s0", str(tmp_path), policy, problems[:1], [PROMPT])
    with pytest.raises(StudentError, match=r"^model 'stream/s0' \(.*\) cannot encode the prompt of problem 3,5->15: "
                                           r"' Zahlen' is not in its tokenizer's vocabulary"):
        check_student_prompts("stream/s0", str(tmp_path), policy, problems, [PROMPT, "Numbers: 3, 5 Zahlen"])
