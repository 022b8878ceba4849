"""Reading and labelling one Countdown step line."""
from __future__ import annotations

import pytest

from search.tasks.base import DEAD_END, INVALID, SOLUTION, VALID
from search.tasks.countdown.task import CountdownTask
from search.tasks.base import Problem

TASK = CountdownTask()
STATE = {"nums": [28, 18, 5], "exprs": ["28", "18", "5"], "target": 15}


@pytest.mark.parametrize("line", [
    "28 - 18 = 10. Left: 5, 10",
    "28-18=10",
    "28\u221218=10",
    "28 \u2013 18 = 10",
    "Step 1: 28 - 18 = 10, so the numbers left are 5 and 10",
    "Left aside, 28 - 18 = 10. Left: [10, 5]",
])
def test_subtraction_is_read_in_every_style(line):
    result = TASK.apply_step(STATE, line)
    assert result.label == VALID, result.reason
    assert result.step == "28 - 18 = 10. Left: 5, 10"
    assert result.info == {"a": 28, "op": "-", "b": 18, "c": 10}
    assert result.state == {"nums": [5, 10], "exprs": ["5", "28 - 18"], "target": 15}


@pytest.mark.parametrize("line,op", [("3 x 5 = 15", "*"), ("3 \u00d7 5 = 15", "*"), ("3*5=15", "*"),
                                     ("6 / 3 = 2", "/"), ("6 \u00f7 3 = 2", "/")])
def test_multiplication_and_division_spellings_are_read(line, op):
    state = {"nums": [3, 5, 6], "exprs": ["3", "5", "6"], "target": 999}
    result = TASK.apply_step(state, line)
    assert result.info["op"] == op and result.label != INVALID, result.reason


@pytest.mark.parametrize("line,error,reason", [
    ("I think we should add them", "unparsable", "it is not a step of the form 'a + b = c'"),
    ("5 / 2 = 2.5", "unparsable", None),
    ("28 * 5 = 150", "arithmetic", "28 * 5 is 140, not 150"),
    ("11 + 5 = 16", "unavailable", "there is no 11 left"),
    ("5 + 5 = 10", "unavailable", "there is only one 5 left"),
    ("28 / 5 = 5", "inexact_division", "28 / 5 is not a whole number"),
    ("18 - 28 = -10", "not_positive", "18 - 28 is -10, which is not positive"),
    ("28 - 18 = 10. Left: 5, 15", "wrong_left", "that leaves 5, 10, not 5, 15"),
])
def test_each_kind_of_invalid_step_has_its_error_and_reason(line, error, reason):
    result = TASK.apply_step(STATE, line)
    assert result.label == INVALID
    assert result.info["error"] == error
    assert result.state is None and result.terminal and result.reward == 0.0
    if reason is not None:
        assert result.reason == reason


def test_division_by_zero_is_an_arithmetic_error():
    result = TASK.apply_step({"nums": [0, 7], "exprs": ["0", "7"], "target": 7}, "7 / 0 = 0")
    assert result.label == INVALID and result.info["error"] == "arithmetic"


def test_left_list_is_compared_as_a_multiset():
    assert TASK.apply_step(STATE, "28 - 18 = 10. Left: 10, 5").label == VALID


def test_legal_step_that_loses_the_target_is_a_dead_end():
    result = TASK.apply_step(STATE, "28 + 18 = 46")
    assert result.label == DEAD_END
    assert result.reason == "5, 46 cannot make 15"
    assert result.terminal and result.reward == 0.0 and result.state["nums"] == [5, 46]


def test_last_number_equal_to_the_target_is_a_solution_and_final_answer_verifies():
    problem = Problem(key="5,18,28->15", payload={"nums": [28, 18, 5], "target": 15})
    first = TASK.apply_step(TASK.initial_state(problem), "28 - 18 = 10")
    last = TASK.apply_step(first.state, "10 + 5 = 15. Left: 15")
    assert last.label == SOLUTION and last.terminal and last.reward == 1.0
    answer = TASK.final_answer(problem, [TASK.initial_state(problem), first.state, last.state])
    assert answer == "(28 - 18) + 5"
    assert TASK.verify(problem, answer)
    assert not TASK.verify(problem, "28 - 18 + 6")
    assert not TASK.verify(problem, None)


def test_last_number_other_than_the_target_is_a_dead_end():
    result = TASK.apply_step({"nums": [10, 5], "exprs": ["28 - 18", "5"], "target": 15}, "10 * 5 = 50")
    assert result.label == DEAD_END and result.reason == "50 is not 15"


def test_overlong_numbers_are_unparsable_not_a_crash():
    result = TASK.apply_step(STATE, "9" * 5000 + " + 5 = 14")
    assert result.label == INVALID and result.info["error"] == "unparsable"
