"""CountdownTask as a whole: registry, generator splits, prompts, scripted steps."""
from __future__ import annotations

import random

import pytest
from omegaconf import OmegaConf

from search.tasks import make_task, task_classes
from search.tasks.base import INVALID, SOLUTION, VALID
from search.tasks.countdown.task import CountdownConfig, CountdownTask
from search.tasks.countdown.generator import is_held_out_target, problem_key
from search.tasks.countdown.solver import solvable


def test_registry_builds_countdown_from_a_dict_or_dictconfig():
    assert task_classes("countdown") == (CountdownTask, CountdownConfig)
    task = make_task(OmegaConf.create({"name": "countdown", "n_train": 3, "n_test": 2, "seed": 7}))
    assert isinstance(task, CountdownTask) and task.config.n_train == 3 and task.config.seed == 7


def test_unknown_option_is_an_error_naming_the_key():
    with pytest.raises(ValueError, match=r"task\.n_nubmers"):
        make_task({"name": "countdown", "n_nubmers": 4})


def test_wrongly_typed_or_impossible_options_are_errors_naming_the_option():
    with pytest.raises(ValueError, match=r"task\.n_train"):
        make_task({"name": "countdown", "n_train": "many"})
    with pytest.raises(ValueError, match=r"task\.source"):
        make_task({"name": "countdown", "source": "hub"})
    with pytest.raises(ValueError, match=r"task\.path"):
        make_task({"name": "countdown", "source": "file"})
    with pytest.raises(ValueError, match=r"task\.name"):
        make_task({"name": "chess"})


def test_generator_is_seeded_and_only_solvable():
    cfg = dict(name="countdown", n_train=20, n_test=10, seed=3)
    first, again = make_task(cfg).load_problems(), make_task(cfg).load_problems()
    other = make_task({**cfg, "seed": 4}).load_problems()
    assert [p.key for p in first] == [p.key for p in again]
    assert [p.key for p in first] != [p.key for p in other]
    assert len(first) == 30 and len({p.key for p in first}) == 30
    task = make_task(cfg)
    for p in first:
        assert solvable(p.payload["nums"], p.payload["target"])
        assert task.verify(p, p.answer)
        assert p.key == problem_key(p.payload["nums"], p.payload["target"])
        assert len(p.payload["nums"]) == 3 and 1 <= min(p.payload["nums"]) and max(p.payload["nums"]) <= 25


def test_train_problems_never_use_held_out_targets():
    problems = make_task({"name": "countdown", "n_train": 60, "n_test": 20, "seed": 1}).load_problems()
    train = {p.payload["target"] for p in problems if p.split == "train"}
    test = {p.payload["target"] for p in problems if p.split == "test"}
    assert len([p for p in problems if p.split == "test"]) == 20
    assert train and test and not train & test
    assert all(is_held_out_target(t, 0.2) for t in test)
    assert not any(is_held_out_target(t, 0.2) for t in train)


def test_problem_key_sorts_the_numbers():
    assert problem_key([7, 3, 5], 22) == "3,5,7->22"


def test_fewshot_prompt_is_three_exported_frames_then_the_question():
    task = make_task({"name": "countdown", "n_train": 1, "n_test": 0})
    problem = task.load_problems()[0]
    prompt = task.prompt(problem)
    assert prompt.endswith(task.question(problem) + "<think>\n")
    blocks = prompt.split("\n\n")
    assert len(blocks) == 4
    for block in blocks[:3]:
        # Each example is a question followed by a verified answer in the exported frame.
        nums_line, target_line = block.splitlines()[:2]
        nums = [int(n) for n in nums_line.removeprefix("Numbers: ").split(", ")]
        example = problem.__class__(key="x", payload={"nums": nums, "target": int(target_line.removeprefix("Target: "))})
        assert task.verify(example, task.extract_answer(block))
        state = task.initial_state(example)
        for line in block.split("<think>\n")[1].split("\n</think>")[0].splitlines():
            result = task.apply_step(state, line)
            assert result.label in (VALID, SOLUTION) and result.step.split(". Left:")[0] == line
            state = result.state
        assert result.label == SOLUTION


def test_question_and_instructions_state_the_problem():
    task = CountdownTask()
    problem = make_task({"name": "countdown", "n_train": 1, "n_test": 0}).load_problems()[0]
    nums, target = problem.payload["nums"], problem.payload["target"]
    assert task.question(problem) == f"Numbers: {', '.join(map(str, nums))}\nTarget: {target}\n"
    assert task.instructions(problem).endswith(task.question(problem))
    messages = make_task({"name": "countdown", "prompt_format": "chat"}).prompt_messages(problem)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[1]["content"].endswith(task.question(problem)) and "<answer>" in messages[1]["content"]


def test_scripted_steps_without_errors_solve_every_problem():
    task = CountdownTask()
    rng = random.Random(0)
    for problem in make_task({"name": "countdown", "n_train": 10, "n_test": 0}).load_problems():
        state = task.initial_state(problem)
        while True:
            result = task.apply_step(state, task.sample_step(state, rng, error_rate=0.0))
            assert result.label in (VALID, SOLUTION)
            state = result.state
            if result.label == SOLUTION:
                break


def test_scripted_steps_with_errors_make_mistakes_and_are_deterministic():
    task = CountdownTask()
    state = {"nums": [28, 18, 5], "exprs": ["28", "18", "5"], "target": 15}
    lines = [task.sample_step(state, random.Random(i), error_rate=1.0) for i in range(30)]
    assert lines == [task.sample_step(state, random.Random(i), error_rate=1.0) for i in range(30)]
    labels = [task.apply_step(state, line).label for line in lines]
    assert labels.count(INVALID) >= 10
    errors = {task.apply_step(state, line).info.get("error") for line in lines}
    assert {"arithmetic", "unavailable"} <= errors
