"""The answer verifier's parser: exact arithmetic on a whitelist, and hostile text rejected fast."""
from __future__ import annotations

import time
from fractions import Fraction

import pytest

from search.tasks.countdown.arithmetic import ExpressionError, evaluate, numbers, parse, uses_exactly


def test_precedence_and_parentheses_follow_arithmetic():
    assert evaluate(parse("2 + 3 * 4")) == 14
    assert evaluate(parse("(2 + 3) * 4")) == 20
    assert evaluate(parse("20 - 5 - 3")) == 12


def test_division_is_exact_not_floating_point():
    assert evaluate(parse("7 / 2 * 2")) == 7
    assert evaluate(parse("1 / 3")) == Fraction(1, 3)


def test_unicode_operators_are_read_as_their_ascii_meaning():
    assert evaluate(parse("(28 \u2212 18) \u00d7 5 \u00f7 2")) == 25


def test_numbers_are_listed_left_to_right():
    assert numbers(parse("(28 - 18) + 5")) == [28, 18, 5]


@pytest.mark.parametrize("text", ["", "3 +", "(3 + 4", "3 4", "-3 + 4", "3 ** 4", "3.5 + 1", "x + 1"])
def test_malformed_expressions_raise_expression_error(text):
    with pytest.raises(ExpressionError):
        parse(text)


def test_division_by_zero_is_an_expression_error():
    with pytest.raises(ExpressionError, match="division by zero"):
        evaluate(parse("5 / (3 - 3)"))


def test_uses_exactly_requires_every_number_once_and_the_target():
    assert uses_exactly("(28 - 18) + 5", [5, 18, 28], 15)
    assert not uses_exactly("28 - 18 + 5", [5, 18, 28], 16)       # wrong value
    assert not uses_exactly("28 - 18", [5, 18, 28], 10)           # 5 unused
    assert not uses_exactly("(28 - 18) + 5 + 5", [5, 18, 28], 20)  # 5 used twice
    assert not uses_exactly("5 / (3 - 3) + 1", [5, 3, 3, 1], 1)   # division by zero


HOSTILE = {
    "import": "__import__('os').system('echo pwned')",
    "power tower": "9**9**9",
    "deep parentheses": "(" * 10_000 + "1" + ")" * 10_000,
    "megabyte": "1+" * 500_000 + "1",
    "nested within length cap": "(" * 100 + "1" + ")" * 100,
    "huge literal": "9" * 200,
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_answers_are_rejected_within_50_ms(name):
    start = time.perf_counter()
    assert uses_exactly(HOSTILE[name], [1, 9], 10) is False
    assert time.perf_counter() - start < 0.05
