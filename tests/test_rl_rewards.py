"""The RL rewards on hand-written completions: right, wrong, malformed and hostile, for both tasks."""
from __future__ import annotations

import json
import time

import pytest

from search.tasks import make_task
from search.tasks.base import Problem
from training.rewards import (AccuracyReward, FormatReward, TinyZeroReward, has_format, reward_functions, score_text,
                              verl_compute_score)

COUNTDOWN = make_task({"name": "countdown"})
MATH = make_task({"name": "math"})
CD = Problem(key="3,5,7->22", payload={"nums": [3, 5, 7], "target": 22}, answer="(3 * 5) + 7")
GSM = Problem(key="q1", payload={"question": "Tom has 3 apples and buys 4 more. How many?"}, answer="7")

CD_RIGHT = "<think>\n3 * 5 = 15. Left: 7, 15\n15 + 7 = 22. Left: 22\n</think>\n<answer>(3 * 5) + 7</answer>"
# Another expression than the gold one that is right too: the verifier checks, it does not compare text.
CD_OTHER_RIGHT = "<think>\n7 + 15\n</think>\n<answer>7 + 5 * 3</answer>"
CD_WRONG = "<think>\n3 + 5 = 8. Left: 7, 8\n8 + 7 = 15. Left: 15\n</think>\n<answer>3 + 5 + 7</answer>"
CD_NO_FRAME = "3 * 5 = 15 and 15 + 7 = 22 <answer>(3 * 5) + 7</answer>"
CD_NO_ANSWER = "<think>\n3 * 5 = 15. Left: 7, 15\n</think>\n"
CD_TWO_THINKS = "<think>\na\n</think>\n<think>\nb\n</think>\n<answer>(3 * 5) + 7</answer>"
CD_EMPTY_THINK = "<think>\n\n</think>\n<answer>(3 * 5) + 7</answer>"
CD_HOSTILE = [
    "<think>\nbig\n</think>\n<answer>9 ** 99999999999 + 3 + 5 + 7</answer>",
    "<think>\nbig\n</think>\n<answer>" + "9" * 5000 + " * 3 + 5 + 7</answer>",
    "<think>\nx\n</think>\n<answer>__import__('os').system('touch /tmp/pwned') or 3 * 5 + 7</answer>",
    "<think>\nx\n</think>\n<answer>(lambda: 22)()</answer>",
    "<think>\n" + "(" * 10000 + "\n</think>\n<answer>" + "(" * 10000 + "3*5+7" + ")" * 10000 + "</answer>",
    "<think>\n" + "x" * 1_000_000 + "\n</think>\n<answer>3 * 5 + 7 + 0</answer>",
]


def columns(problem: Problem, n: int) -> dict:
    return {"payload": [json.dumps(problem.payload)] * n, "answer": [problem.answer] * n, "problem": [problem.key] * n}


def call(reward, problem: Problem, completions: list, prompts: list | None = None) -> list[float]:
    return reward(prompts=prompts or [""] * len(completions), completions=completions,
                  **columns(problem, len(completions)))


def test_countdown_accuracy_is_the_verifier_and_format_is_the_frame():
    completions = [CD_RIGHT, CD_OTHER_RIGHT, CD_WRONG, CD_NO_FRAME, CD_NO_ANSWER, CD_TWO_THINKS, CD_EMPTY_THINK]
    assert call(AccuracyReward(COUNTDOWN), CD, completions) == [1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0]
    assert call(FormatReward(COUNTDOWN), CD, completions) == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    # TinyZero: right 1, well-formed but wrong 0.1, else 0 (a right answer outside the frame still counts).
    assert call(TinyZeroReward(COUNTDOWN), CD, completions) == [1.0, 1.0, 0.1, 1.0, 0.0, 1.0, 1.0]


def test_countdown_hostile_answers_score_zero_quickly_and_run_nothing(tmp_path):
    start = time.perf_counter()
    scores = call(AccuracyReward(COUNTDOWN), CD, CD_HOSTILE)
    assert scores == [0.0] * len(CD_HOSTILE)
    assert time.perf_counter() - start < 5.0
    assert not (tmp_path / "pwned").exists()
    import os

    assert not os.path.exists("/tmp/pwned")


def test_prompt_that_opened_think_counts_toward_the_frame():
    # Few-shot and `question` prompts end with `<think>\n`: the model writes only the rest of the frame.
    body = CD_RIGHT[len("<think>\n"):]
    assert has_format(COUNTDOWN, body, prompt="Numbers: 3, 5, 7\nTarget: 22\n<think>\n")
    assert not has_format(COUNTDOWN, body, prompt="Numbers: 3, 5, 7\nTarget: 22\n")


def test_text_after_the_answer_stop_is_not_scored():
    # A few-shot completion runs on into an invented next problem: evaluation would have stopped at
    # `</answer>`, so the rewards read only up to there.
    run_on = CD_RIGHT + "\n\nNumbers: 1, 2\nTarget: 3\n<think>\n1 + 2 = 3\n</think>\n<answer>1 + 2</answer>"
    assert call(AccuracyReward(COUNTDOWN), CD, [run_on]) == [1.0]
    assert call(FormatReward(COUNTDOWN), CD, [run_on]) == [1.0]


def test_conversational_completions_are_read_from_their_messages():
    completion = [{"role": "assistant", "content": CD_RIGHT}]
    prompt = [{"role": "user", "content": COUNTDOWN.instructions(CD)}]
    assert call(AccuracyReward(COUNTDOWN), CD, [completion], [prompt]) == [1.0]
    assert call(FormatReward(COUNTDOWN), CD, [completion], [prompt]) == [1.0]


def test_math_rewards_use_math_verify_with_its_time_limit():
    right = "<think>\n3 + 4 = 7\n</think>\nThe answer is \\boxed{7}."
    equivalent = "<think>\n3 + 4\n</think>\nThe answer is \\boxed{\\frac{14}{2}}."
    wrong = "<think>\n3 * 4 = 12\n</think>\nThe answer is \\boxed{12}."
    two_answers = "<think>\n3 + 4 = 7\n</think>\nThe answer is \\boxed{7}. Or maybe \\boxed{8}."
    unclosed = "<think>\n3 + 4 = 7\n</think>\nThe answer is \\boxed{7"
    hostile = ["<think>\nx\n</think>\nThe answer is \\boxed{9^{9^{9^{9}}}}.",
               "<think>\nx\n</think>\nThe answer is \\boxed{\\input{/etc/passwd}}.",
               "<think>\nx\n</think>\nThe answer is \\boxed{" + "{" * 10000 + "7" + "}" * 10000 + "}.",
               "<think>\nx\n</think>\nThe answer is \\boxed{" + "7" * 20_000 + "}."]
    completions = [right, equivalent, wrong, two_answers, unclosed, *hostile]
    warm = "<think>\nx\n</think>\nThe answer is \\boxed{\\frac{21}{3}}."
    assert call(AccuracyReward(MATH), GSM, [warm]) == [1.0]  # starts the checker's worker processes (seconds on a busy machine)
    start = time.perf_counter()
    accuracy = call(AccuracyReward(MATH), GSM, completions)
    # Each answer math-verify cannot settle within task.verify_timeout (1 s) is killed and judged wrong.
    assert time.perf_counter() - start < 10 * MATH.config.verify_timeout
    assert accuracy == [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert call(FormatReward(MATH), GSM, completions)[:5] == [1.0, 1.0, 1.0, 0.0, 0.0]


def test_sum_weights_format_and_tinyzero_folds_both():
    functions, weights = reward_functions(COUNTDOWN, "sum", 0.25)
    assert [f.__name__ for f in functions] == ["accuracy", "format"] and weights == [1.0, 0.25]
    assert score_text(COUNTDOWN, CD, CD_RIGHT, "sum", 0.25) == 1.25
    assert score_text(COUNTDOWN, CD, CD_WRONG, "sum", 0.25) == 0.25
    assert score_text(COUNTDOWN, CD, CD_WRONG, "tinyzero") == pytest.approx(0.1)
    with pytest.raises(ValueError, match="rl.reward must be one of"):
        reward_functions(COUNTDOWN, "dense")


def test_tinyzero_logs_accuracy_and_format_as_metrics():
    logged = {}
    TinyZeroReward(COUNTDOWN)(prompts=["", ""], completions=[CD_RIGHT, CD_WRONG], log_metric=logged.__setitem__,
                              **columns(CD, 2))
    assert logged == {"accuracy": 0.5, "format": 1.0}


def test_missing_payload_column_is_a_clear_error():
    with pytest.raises(ValueError, match="column 'payload'"):
        AccuracyReward(COUNTDOWN)(prompts=[""], completions=[CD_RIGHT], answer=[CD.answer])


def test_verl_compute_score_builds_the_task_and_reads_extra_info():
    info = {"payload": json.dumps(CD.payload), "problem": CD.key}
    assert verl_compute_score({"name": "countdown"}, CD_RIGHT, CD.answer, info, "tinyzero") == 1.0
    assert verl_compute_score({"name": "countdown"}, CD_WRONG, CD.answer, info, "tinyzero") == pytest.approx(0.1)
    assert verl_compute_score({"name": "math"}, "<think>\nx\n</think>\nThe answer is \\boxed{7}.", "7") == 1.0
    with pytest.raises(ValueError, match="extra_info"):
        verl_compute_score({"name": "countdown"}, CD_RIGHT, CD.answer, None)
