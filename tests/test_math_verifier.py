"""Answer checking with the real math-verify in worker processes: equivalences, hostile answers
judged in under a second, batching, the cache, threads."""
from __future__ import annotations

import threading
import time

import pytest

from search.tasks import make_task
from search.tasks.base import Problem
from search.tasks.math import verifier
from search.tasks.math.verifier import check, check_many, precheck, shared_pool


def problem(answer: str) -> Problem:
    return Problem(key="k", payload={"question": "q", "solution": None}, answer=answer, split="test", dataset="t")


@pytest.fixture(scope="module")
def task():
    t = make_task({"name": "math"})
    shared_pool().run([("1", "1")], 30.0)     # start the workers once, off every timed assertion
    return t


@pytest.mark.parametrize("gold, answer", [
    ("\\frac{1}{2}", "0.5"),
    ("0.5", "\\frac{1}{2}"),
    ("2\\sqrt{2}", "\\sqrt{8}"),
    ("3", "x=3"),
    ("1000", "1,000"),
    ("18", "18"),
    ("70000", "70,000.00"),
    ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3, \\pi/2)"),
    ("18", "18 \\text{ dollars}"),
])
def test_equivalent_answers_verify(task, gold, answer):
    assert task.verify(problem(gold), answer)


@pytest.mark.parametrize("gold, answer", [
    ("18", "19"), ("\\frac{1}{2}", "0.25"), ("2\\sqrt{2}", "\\sqrt{2}"), ("3", "x=4"), ("18", None), ("18", ""),
])
def test_different_answers_do_not(task, gold, answer):
    assert not task.verify(problem(gold), answer)


HOSTILE = [
    "9^{9^{9^{9}}}",
    "{" * 10_000 + "1" + "}" * 10_000,
    "1" * 1_000_000,
    "\\input{/etc/passwd}",
    "\\include{x}",
    "99999999!",
    "2^{123456789}",
]


@pytest.mark.parametrize("answer", HOSTILE, ids=["tower", "braces", "megabyte", "input", "include", "factorial", "power"])
def test_hostile_answers_are_judged_wrong_in_under_a_second(task, answer):
    start = time.perf_counter()
    assert not task.verify(problem("18"), answer)
    assert not task.verify(problem("18"), f"\\boxed{{{answer}}}")
    assert time.perf_counter() - start < 1.0


def test_hostile_answers_inside_a_step_are_wrong_answers_in_under_a_second(task):
    for answer in HOSTILE:
        start = time.perf_counter()
        result = task.apply_step(task.initial_state(problem("18")), f"The answer is \\boxed{{{answer}}}.", problem("18"))
        assert result.label == "wrong_answer" and result.terminal
        assert len(result.reason) < 100
        assert time.perf_counter() - start < 1.0


def test_prechecks_say_why():
    assert "power tower" in precheck("9^{9^{9}}", 256)
    assert "256" in precheck("1" * 300, 256)
    assert "nested" in precheck("{" * 60 + "}" * 60, None)
    assert "TeX" in precheck("\\input{/etc/passwd}", 256)
    assert precheck("2^{2005}", 256) is None and precheck("\\frac{1}{2}", 256) is None


def test_a_slow_answer_the_prechecks_miss_is_killed_at_the_time_limit(task):
    # Passes every pre-check, but sympy would build a 95-million-digit integer.
    slow = "(9^{9999})^{9999}"
    start = time.perf_counter()
    assert not check("18", slow, timeout=0.3, max_chars=256)
    assert time.perf_counter() - start < 1.0
    # The killed worker was replaced: the pool still answers.
    assert check("\\frac{1}{3}", "1/3", timeout=5.0, max_chars=256)


def test_verify_many_batches_and_caches(task):
    items = [(problem("\\frac{1}{2}"), "0.5"), (problem("18"), "19"), (problem("2\\sqrt{2}"), "\\sqrt{8}"),
             (problem("\\frac{1}{2}"), "0.5"), (problem("18"), None), (problem("7"), "9^{9^{9}}")]
    assert task.verify_many(items) == [True, False, True, True, False, False]
    assert verifier._CACHE[("\\frac{1}{2}", "0.5")] is True
    start = time.perf_counter()
    assert task.verify_many(items * 50) == [True, False, True, True, False, False] * 50
    assert time.perf_counter() - start < 0.5      # every verdict from the cache


def test_same_answer_uses_math_equivalence(task):
    assert task.same_answer("\\frac{1}{2}", "0.5")
    assert task.same_answer("1,000", "1000")
    assert task.same_answer(" 18 ", "18")
    assert not task.same_answer("18", "19")
    assert not task.same_answer("9^{9^{9}}", "9^{9^{9}}")      # rejected before anything parses it


def test_the_pool_is_shared_and_safe_across_threads(task):
    results: dict[int, list[bool]] = {}

    def work(k: int) -> None:
        results[k] = check_many([(f"\\frac{{{k}}}{{7}}", f"{k}/7"), (f"{k}", f"{k + 1}"),
                                 ("\\sqrt{2}", f"\\sqrt{{{k + 3}}}")], 5.0, 256)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {k: [True, False, False] for k in range(8)}
    assert shared_pool() is shared_pool()
