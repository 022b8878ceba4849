"""The math task through the Task contract: step labels, prompts, words, the scripted policy."""
from __future__ import annotations

import json
import random

import pytest

from search.tasks import make_task
from search.tasks.base import INVALID, SOLUTION, THINK_CLOSE, THINK_OPEN, VALID, WRONG_ANSWER, Problem
from search.tasks.math.loaders import DATA_DIR
from search.tasks.math.prompts import EXAMPLES
from search.tasks.math.scripted import gold_steps

GSM = Problem(key="test/0", payload={"question": "Janet has 16 eggs. She eats 3 and bakes with 4. She sells the rest "
                                     "at $2 each. How much does she make?",
                                     "solution": "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\n"
                                                 "She makes 9 * 2 = $<<9*2=18>>18 every day."},
              answer="18", split="test", dataset="gsm8k")


@pytest.fixture(scope="module")
def task():
    return make_task({"name": "math"})


@pytest.fixture(scope="module")
def math500():
    rows = [json.loads(line) for line in (DATA_DIR / "math500_test.jsonl").read_text().splitlines()[:40]]
    return [Problem(key=r["unique_id"], payload={"question": r["problem"], "solution": r["solution"]},
                    answer=r["answer"], split="test", dataset="math500") for r in rows]


# -- steps ---------------------------------------------------------------------------------------
def test_initial_state(task):
    assert task.initial_state(GSM) == {"n": 0, "numbers": [], "answer": None}


def test_a_step_without_an_answer_is_valid_and_records_its_numbers(task):
    result = task.apply_step(task.initial_state(GSM), "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 eggs, $1,200 in all.", GSM)
    assert result.label == VALID and not result.terminal and not result.final
    assert result.state == {"n": 1, "numbers": ["16", "3", "4", "9", "1200"], "answer": None}
    assert json.loads(json.dumps(result.state)) == result.state


@pytest.mark.parametrize("text, reason", [
    ("", "empty step"), ("   \n ", "empty step"),
    ("</think>", "the reasoning ended without a final answer"),
    ("So it is \\boxed{18", "the \\boxed{ answer is never closed"),
])
def test_empty_and_broken_steps_are_invalid(task, text, reason):
    result = task.apply_step(task.initial_state(GSM), text, GSM)
    assert (result.label, result.state, result.reason) == (INVALID, None, reason)


@pytest.mark.parametrize("text", ["She makes 9 * 2 = 18. The answer is \\boxed{18}.", "#### 18", "So the answer is 18.",
                                  "The answer is \\boxed{18.0}"])
def test_a_verified_answer_is_a_solution(task, text):
    state = {"n": 1, "numbers": ["16", "3", "4", "9"], "answer": None}
    result = task.apply_step(state, text, GSM)
    assert result.label == SOLUTION and result.terminal and result.final and result.reward == 1.0
    assert result.state["n"] == 2 and result.state["answer"] is not None
    assert task.final_answer(GSM, [state, result.state]) == result.state["answer"]


def test_a_wrong_answer_names_the_models_answer_never_the_gold(task):
    result = task.apply_step(task.initial_state(GSM), "She makes 9 * 2 = 42. The answer is \\boxed{42}.", GSM)
    assert result.label == WRONG_ANSWER and result.terminal and result.final and result.reward == 0.0
    assert result.reason == "that gives 42, which doesn't fit the question"
    assert "18" not in result.reason
    assert result.state["answer"] == "42"
    assert task.describe_failure({"label": WRONG_ANSWER, "reason": result.reason}) == result.reason


def test_apply_step_never_raises_on_model_text(task):
    rng = random.Random(0)
    alphabet = "\\{}^$#0123456789 boxed answer is</think>\n.,"
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        result = task.apply_step(task.initial_state(GSM), text, GSM)
        assert result.label in (VALID, INVALID, SOLUTION, WRONG_ANSWER)


# -- prompts ------------------------------------------------------------------------------------
def test_question_is_the_bare_problem_text(task):
    assert task.question(GSM) == GSM.payload["question"] + "\n"


def test_fewshot_examples_are_bundled_train_rows_in_the_trajectory_frame(task):
    train = (DATA_DIR / "gsm8k_train.jsonl").read_text(encoding="utf-8").splitlines()
    for example in EXAMPLES:
        row = json.loads(train[example.line - 1])
        assert row["question"] == example.question
        assert row["answer"] == f"{example.solution}\n#### {example.answer}"
    prompt = task.fewshot_prompt(GSM)
    first = EXAMPLES[0]
    lines = ["The candy bars cost 4*2= $8.", "Todd has 20-8= $12 left. The answer is \\boxed{12}."]
    assert prompt.startswith(first.question + "\n" + task.render_completion(lines, "12") + "\n\n")
    assert prompt.endswith("\n\n" + task.question(GSM) + f"{THINK_OPEN}\n")
    assert prompt.count(THINK_CLOSE) == 3 and "<<" not in prompt


def test_fewshot_prompt_never_contains_the_problem_itself(task):
    for example in EXAMPLES[:3]:
        own = Problem(key="train/x", payload={"question": example.question, "solution": example.solution},
                      answer=example.answer, split="train", dataset="gsm8k")
        prompt = task.fewshot_prompt(own)
        assert prompt.count(example.question) == 1 and prompt.endswith(example.question + f"\n{THINK_OPEN}\n")
        assert prompt.count(THINK_CLOSE) == 3


def test_paragraph_steps_change_the_frame_and_the_stop():
    task = make_task({"name": "math", "step_delimiter": "\n\n", "n_shots": 1})
    assert task.stop == ("\n\n",) and task.answer_stop == ("\n\n\n",)
    prompt = task.fewshot_prompt(GSM)
    assert "The candy bars cost 4*2= $8.\n\nTodd has" in prompt and prompt.count(THINK_CLOSE) == 1
    assert "\n\n\n" + task.question(GSM) in prompt


def test_the_answer_stop_ends_a_fewshot_completion_only(task):
    assert task.answer_stop == ("\n\n",)
    assert make_task({"name": "math", "prompt_format": "chat"}).answer_stop == ()
    assert task.close_answer("x\n</think>\nThe answer is \\boxed{3}.", "stop").endswith("\\boxed{3}.")


def test_instructions_and_messages(task):
    text = task.instructions(GSM)
    assert THINK_OPEN in text and "\\boxed{" in text and "one step per line" in text
    assert text.endswith(task.question(GSM))
    messages = task.prompt_messages(GSM)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[1]["content"].endswith(task.question(GSM))
    assert task.prompt(GSM, "question") == task.question(GSM) + f"{THINK_OPEN}\n"


# -- words ---------------------------------------------------------------------------------------
def test_words_for_reflections(task):
    assert task.describe_state({"n": 3, "numbers": [], "answer": None}) == "step 3"
    assert task.describe_state(task.initial_state(GSM)) is None
    assert task.describe_failure({"label": "dead_end", "reason": "0 of 8 completions reached the answer."}) == \
        "0 of 8 completions reached the answer"
    assert task.kept_facts("She makes 9 * 2 = $1,800. The answer is \\boxed{1800}.") == ["9", "2", "1,800", "1800", "1800"]
    assert task.default_value == "rollout" and not task.stream_grammar
    assert "math-verify" in task.label_notes and "dead_end" in task.label_notes


# -- the scripted policy -------------------------------------------------------------------------
def run_scripted(task, problem, error_rate, seed):
    state, lines = task.initial_state(problem), []
    rng = random.Random(seed)
    for _ in range(50):
        line = task.sample_step(state, rng, error_rate, problem)
        result = task.apply_step(state, line, problem)
        lines.append(line)
        assert result.label != INVALID, line
        if result.terminal:
            return result, lines
        state = result.state
    raise AssertionError("the scripted policy never stated an answer")


def test_scripted_replay_without_errors_solves_gsm8k_and_math(task, math500):
    result, lines = run_scripted(task, GSM, 0.0, 0)
    assert result.label == SOLUTION and result.reward == 1.0
    assert lines == ["Janet sells 16 - 3 - 4 = 9 duck eggs a day.",
                     "She makes 9 * 2 = $18 every day. The answer is \\boxed{18}."]
    paragraphs = make_task({"name": "math", "step_delimiter": "\n\n"})
    for problem in math500:
        for t in (task, paragraphs):
            result, lines = run_scripted(t, problem, 0.0, 1)
            assert result.label == SOLUTION, (problem.key, lines[-1])
            assert all(t.step_delimiter not in line for line in lines)


def test_scripted_replay_with_every_step_wrong_never_solves(task, math500):
    for problem in [GSM, *math500[:15]]:
        for seed in range(3):
            result, lines = run_scripted(task, problem, 1.0, seed)
            assert result.label == WRONG_ANSWER, (problem.key, lines)


def test_once_off_track_a_scripted_path_stays_wrong(task):
    for seed in range(20):
        result, lines = run_scripted(task, GSM, 0.5, seed)
        first_step_wrong = lines[0] != gold_steps(GSM, "\n")[0]
        if first_step_wrong:
            assert result.label == WRONG_ANSWER


def test_scripted_steps_and_rollouts_are_deterministic(task):
    state = task.initial_state(GSM)
    for rate in (0.0, 0.5, 1.0):
        steps = [task.sample_step(state, random.Random(i), rate, GSM) for i in range(10)]
        assert steps == [task.sample_step(state, random.Random(i), rate, GSM) for i in range(10)]
        rollouts = [task.sample_rollout(state, random.Random(i), rate, GSM) for i in range(10)]
        assert rollouts == [task.sample_rollout(state, random.Random(i), rate, GSM) for i in range(10)]


def test_a_scripted_rollout_is_a_whole_completion(task):
    text = task.sample_rollout(task.initial_state(GSM), random.Random(0), 0.0, GSM)
    assert text == ("Janet sells 16 - 3 - 4 = 9 duck eggs a day.\n"
                    "She makes 9 * 2 = $18 every day. The answer is \\boxed{18}.\n</think>\nThe answer is \\boxed{18}.")
    assert task.verify(GSM, task.extract_answer(text))
    wrong = task.sample_rollout(task.initial_state(GSM), random.Random(0), 1.0, GSM)
    assert not task.verify(GSM, task.extract_answer(wrong))
    middle = task.apply_step(task.initial_state(GSM), gold_steps(GSM, "\n")[0], GSM).state
    rest = task.sample_rollout(middle, random.Random(0), 0.0, GSM)
    assert rest.startswith("She makes") and task.verify(GSM, task.extract_answer(rest))


def test_scripted_steps_need_the_problem(task):
    with pytest.raises(ValueError, match="problem"):
        task.sample_step(task.initial_state(GSM), random.Random(0), 0.0, None)


def test_illegal_math_steps_end_their_branch():
    task = make_task({"name": "math"})
    state = task.initial_state(task.load_problems()[0])
    for text in ("", "   ", "so \\boxed{12", "done </think>"):
        result = task.apply_step(state, text)
        assert result.label == "invalid" and result.terminal and result.state is None and result.reason
