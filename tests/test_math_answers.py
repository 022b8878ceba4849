"""Reading final answers back from model text: `\\boxed{}` by brace counting, `#### n`, "the answer is"."""
from __future__ import annotations

import time

import pytest

from search.tasks.math.answers import extract_answer, format_answer, last_boxed, numbers, strip_calculator_notes


@pytest.mark.parametrize("text, answer", [
    ("so $x = \\boxed{\\frac{1}{2}}$.", "\\frac{1}{2}"),
    ("\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}", "\\left( 3, \\frac{\\pi}{2} \\right)"),
    ("first \\boxed{3}, then \\boxed{4}, finally \\boxed{ 5 }.", "5"),
    ("the set \\boxed{\\{1, 2\\}}", "\\{1, 2\\}"),
    ("\\fbox{7}", "7"),
    ("\\boxed {8}", "8"),
])
def test_the_last_box_is_the_answer(text, answer):
    assert extract_answer(text) == answer


@pytest.mark.parametrize("text", [
    "no answer here",
    "an unbalanced \\boxed{\\frac{1}{2}",
    "an earlier \\boxed{3} does not count when the last box is open: \\boxed{4",
    "\\boxedvalue{3} is another command",
    "",
])
def test_no_box_or_an_unclosed_last_box_is_no_answer(text):
    assert extract_answer(text) is None


@pytest.mark.parametrize("text, answer", [
    ("He pays 20-8=12\n#### 12", "12"),
    ("#### 1,000", "1000"),
    ("#### $18.", "18"),
    ("So the answer is 42.", "42"),
    ("The final answer is: $1,250", "1250"),
    ("The answer is $2\\sqrt{2}$.", "2\\sqrt{2}"),
    ("The answer is 3/4 of the cake", "3/4"),
    ("the answer is 7 and #### 8", "8"),               # `####` outranks "the answer is"
    ("#### 8 but The answer is \\boxed{9}.", "9"),     # a box outranks both
])
def test_gsm8k_hashes_and_the_answer_is(text, answer):
    assert extract_answer(text) == answer


def test_format_answer_reads_back():
    for answer in ("18", "\\frac{1}{2}", "\\left( 3, \\frac{\\pi}{2} \\right)", "x=3"):
        assert extract_answer(format_answer(answer)) == answer
    assert format_answer("18") == "The answer is \\boxed{18}."


def test_extraction_is_fast_on_hostile_text():
    texts = ["\\boxed{" + "{" * 10_000 + "1" + "}" * 10_001, "answer is " + "1" * 1_000_000, "####" * 250_000,
             "The answer is \\boxed{" + "a" * 1_000_000 + "}", "answer is " * 100_000, "\\boxed{" * 100_000]
    for text in texts:
        start = time.perf_counter()
        extract_answer(text)
        assert time.perf_counter() - start < 1.0


def test_last_boxed_counts_nested_braces():
    assert last_boxed("\\boxed{a{b{c}}d}") == "a{b{c}}d"


def test_numbers_drop_commas_and_calculator_notes():
    assert numbers("He gave away 100*.2=$<<100*.2=20>>20 of $1,200, so 12.5 left") == ["100", ".2", "20", "1200", "12.5"]
    assert strip_calculator_notes("48/2=<<48/2=24>>24") == "48/2=24"
