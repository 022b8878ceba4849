"""The reasoning-gym task: seeded problems of any procedural dataset, a train/test split by a hash of the
question that never shares a problem, answers scored by the dataset's own `score_answer` in a worker
process (model text never run as code), bad settings as one line through the real CLI with nothing
written, and scripted trees through the generic explorer."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from reasoning_gym import create_dataset

from db import TraceStore
from search.algorithms import SearchSettings, make_algorithm
from search.explorer import Explorer, ExploreSettings
from search.policies.scripted import ScriptedPolicy
from search.tasks import Problem, make_task
from search.tasks.base import INVALID, SOLUTION, VALID, WRONG_ANSWER

ROOT = Path(__file__).resolve().parents[1]


def _task(dataset: str, **options):
    return make_task({"name": "gym", "dataset": dataset, **options})


def _own_score(problem: Problem, answer: str) -> float:
    """The dataset's score computed here, in this process, from the stored payload: apart from the task's worker."""
    p = problem.payload
    ds = create_dataset(p["dataset"], seed=0, size=1, **p["dataset_config"])
    return ds.score_answer(answer, {"question": p["question"], "answer": p["answer"], "metadata": p["metadata"]})


@pytest.mark.parametrize("dataset,config", [("maze", {"max_dist": 6}), ("tower_of_hanoi", {})])
def test_two_datasets_load_the_same_problems_for_the_same_seed(dataset, config):
    first = _task(dataset, dataset_config=config, n_train=5, n_test=3, seed=3).load_problems()
    again = _task(dataset, dataset_config=config, n_train=5, n_test=3, seed=3).load_problems()
    other = _task(dataset, dataset_config=config, n_train=5, n_test=3, seed=4).load_problems()
    assert [p.row() for p in first] == [p.row() for p in again]
    assert Counter(p.split for p in first) == {"train": 5, "test": 3}
    assert {p.key for p in first} != {p.key for p in other}
    for p in first:
        assert p.dataset == f"gym-{dataset}" and p.payload["dataset"] == dataset
        assert json.loads(json.dumps(p.payload)) == p.payload            # JSON-safe as stored
        assert set(p.payload) >= {"question", "answer", "metadata"} and p.answer == p.payload["answer"]
        assert _own_score(p, p.answer) == 1.0


def test_the_split_never_shares_a_question_and_follows_a_hash_of_the_question():
    problems = _task("basic_arithmetic", n_train=40, n_test=12, test_fraction=0.25).load_problems()
    train = {" ".join(p.payload["question"].split()) for p in problems if p.split == "train"}
    test = {" ".join(p.payload["question"].split()) for p in problems if p.split == "test"}
    assert len(train) == 40 and len(test) == 12 and not train & test
    for question in train | test:   # the same rule, written out here
        digest = hashlib.sha256(f"gym-split:basic_arithmetic:{question}".encode()).digest()
        assert (int.from_bytes(digest[:8], "big") / 2 ** 64 < 0.25) == (question in test)
    # another seed or config draws other questions, but never moves one across the split
    more = _task("basic_arithmetic", n_train=40, n_test=12, test_fraction=0.25, seed=9,
                 dataset_config={"max_terms": 3}).load_problems()
    assert not ({" ".join(p.payload["question"].split()) for p in more if p.split == "train"} & test)


def test_a_right_and_a_wrong_answer_are_scored_by_the_datasets_own_scorer():
    task = _task("tower_of_hanoi", n_train=2, n_test=1)
    problem = task.load_problems()[0]
    moves = problem.answer.splitlines()
    wrong = "\n".join(moves[:-1])                   # one move short: legal moves, puzzle unsolved
    assert task.score(problem, problem.answer) == _own_score(problem, problem.answer) == 1.0
    assert task.score(problem, wrong) == _own_score(problem, wrong) == 0.05
    assert task.verify(problem, problem.answer) and not task.verify(problem, wrong)
    right = task.apply_step({"n": 2, "answer": None, "score": None},
                            f"That is all.\n</think>\n<answer>{problem.answer}</answer>", problem)
    assert (right.label, right.reward, right.state["score"], right.step) == (SOLUTION, 1.0, 1.0, "That is all.")
    bad = task.apply_step({"n": 2, "answer": None, "score": None}, f"</think>\n<answer>{wrong}</answer>", problem)
    assert (bad.label, bad.reward, bad.state["score"]) == (WRONG_ANSWER, 0.0, 0.05)
    assert "scores 0.05 of 1" in bad.reason and moves[-1] not in bad.reason
    assert task.apply_step({"n": 0, "answer": None, "score": None}, "I count the disks.", problem).label == VALID
    for text, reason in (("  ", "empty step"), ("</think> done", "the reasoning ended without a final answer"),
                         ("<answer>Move disk 1", "the <answer> is never closed")):
        result = task.apply_step({"n": 0, "answer": None, "score": None}, text, problem)
        assert (result.label, result.reason) == (INVALID, reason)


def test_model_text_is_never_run_as_code_by_a_scorer(tmp_path):
    """n_queens' scorer `eval`s a non-matching answer and countdown's parses it with sympy (eval
    underneath); in the worker both read literals and plain arithmetic only."""
    queens = _task("n_queens", n_train=1, n_test=0)
    problem = queens.load_problems()[0]
    board = [row.split() for row in problem.answer.splitlines()]
    assert queens.score(problem, repr(board)) == 0.5          # a Python list of rows: the scorer's partial credit
    countdown = _task("countdown", n_train=1, n_test=0)
    sums = countdown.load_problems()[0]
    assert countdown.score(sums, sums.answer) == 1.0            # sympy still parses arithmetic
    for i, (task, p) in enumerate([(queens, problem), (countdown, sums)]):
        marker = tmp_path / f"ran{i}"
        attack = f"__import__('os').system('touch {marker}')"
        assert task.score(p, attack) < 1.0 and task.score(p, f"[{attack}]") < 1.0
        assert not marker.exists()


def _cli(tmp_path, *overrides):
    store = tmp_path / "store.db"
    proc = subprocess.run(
        [sys.executable, "-m", "journeyforge.cli", "explore", "task=gym", *overrides, f"store.url=sqlite:///{store}",
         f"workdir={tmp_path / 'out'}", "policy=scripted"],
        capture_output=True, text=True, cwd=ROOT, timeout=600)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode != 0 and "Traceback" not in proc.stderr and len(lines) == 1, proc.stderr
    assert not store.exists() and not (tmp_path / "out").exists()
    return lines[0]


@pytest.mark.parametrize("overrides,line", [
    (["task.dataset=mazes"], "task.dataset must be a reasoning-gym dataset, got 'mazes' (close matches: maze)"),
    (["task.dataset=maze", "+task.dataset_config.depth=3"],
     "task.dataset_config.depth is not an option of reasoning-gym's maze (its options: min_dist, max_dist, "
     "min_grid_size, max_grid_size)"),
    (["task.dataset=maze", "+task.dataset_config.seed=3"], "task.dataset_config.seed is the task's own: set task.seed instead"),
    (["task.dataset=maze", "+task.dataset_config.min_dist=0"],
     "task.dataset_config is rejected by reasoning-gym's maze: min_dist must be >= 1"),
    (["task.n_test=100001"], "task.n_test must be in 0..100000, got 100001"),
    # the option exists; Hydra's struct mode takes new keys of a mapping only with `+`
    (["task.dataset=maze", "task.dataset_config={max_dist:5}"],
     "task.dataset_config is a mapping option that takes new keys only with a leading +: write "
     "+task.dataset_config=... (or +task.dataset_config.<name>=<value>)"),
])
def test_bad_settings_through_the_cli_are_one_line_naming_the_option_and_write_nothing(tmp_path, overrides, line):
    assert _cli(tmp_path, *overrides) == f"journeyforge explore: {line}"


def test_an_unknown_dataset_through_the_cli_is_one_line_and_writes_nothing(tmp_path):
    line = _cli(tmp_path, "task.dataset=nonsense")
    assert line.startswith("journeyforge explore: task.dataset must be a reasoning-gym dataset, got 'nonsense'")


def test_too_few_distinct_questions_is_one_line_that_says_what_to_change():
    task = _task("n_queens", dataset_config={"n": 4, "min_remove": 1, "max_remove": 1}, n_train=20, n_test=5)
    with pytest.raises(ValueError, match=r"^task.dataset=n_queens gave \d+ distinct questions in \d+ draws .* "
                                         r"lower them or widen task.dataset_config$"):
        task.load_problems()


def test_scripted_trees_on_a_gym_dataset_are_solved_and_labelled_by_its_scorer(sqlite_url):
    task = _task("basic_arithmetic", n_train=4, n_test=2)
    store = TraceStore(sqlite_url)
    problems = task.load_problems()
    ids = store.add_problems([p.row() for p in problems])
    run_id = store.start_run("gym", "explore", {})
    store.create_trees(run_id, [i for p, i in zip(problems, ids) if p.split == "train"])
    algo = make_algorithm(SearchSettings(algorithm="mcts", k=3, max_expansions=5))
    summary = Explorer(store, task, ScriptedPolicy(task, error_rate=0.3, seed=1), algo,
                       ExploreSettings(progress=False)).run(run_id)
    assert summary.trees_done == 4 and summary.solved > 0
    labels = Counter()
    for t in store.trees(run_id):
        problem = Problem.from_row(t["problem"])
        for r in store.nodes(t["id"]):
            labels[r["label"]] += 1
            if r["label"] in (SOLUTION, WRONG_ANSWER):    # the stored score is the dataset's own
                answer = task.extract_answer(r["text"])
                assert r["state"]["score"] == _own_score(problem, answer)
                assert (r["state"]["score"] == 1.0) == (r["label"] == SOLUTION)
    assert labels[SOLUTION] > 0 and labels[WRONG_ANSWER] > 0
