"""`prm.data=samples` (issue 40): a step scorer trained on the policy's own sampled answers, each step
labelled by whether any answer through it was right (Math-Shepherd's hard estimate; the share is its soft
value). The labels worked out by hand on real Countdown answers; the stage from a real tiny student that
answers some of its training problems right: the stored answers, the rows rebuilt independently from
them, the scorer, a re-run that samples and trains nothing again; bad options one line each."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from db import TraceStore
from journeyforge.overrides import CONF_DIR
from journeyforge.stages import evolve, prm
from journeyforge.stages.common import StageError
from journeyforge.stages.prm_samples import PRM_SAMPLE_STAGE
from search.tasks import make_task
from search.tasks.base import Problem
from training.sampled_steps import sampled_step_rows

# The CPU laboratory's student writes the right operation with a wrong sum and still answers right.
RIGHT_WRONG_SUM = "<think>\n25 + 20 = 40. Left: 9, 40\n40 + 9 = 54. Left: 54\n</think>\n<answer>(25 + 20) + 9</answer>"
WRONG = "<think>\n25 + 20 = 58. Left: 9, 58\n58 - 9 = 54. Left: 54\n</think>\n<answer>(25 + 20) - 9</answer>"
RIGHT = "<think>\n25 + 20 = 45. Left: 9, 45\n45 + 9 = 54. Left: 54\n</think>\n<answer>(25 + 20) + 9</answer>"
OTHER_START = "<think>\n25 - 20 = 5. Left: 9, 5\n9 * 5 = 54. Left: 54\n</think>\n<answer>(25 - 20) * 9</answer>"


def test_each_step_is_good_when_an_answer_through_it_was_right_and_its_value_is_their_share():
    task = make_task({"name": "countdown", "n_numbers": 3})
    problem = Problem(dataset="countdown", key="9,20,25->54", payload={"nums": [25, 20, 9], "target": 54},
                      answer="(25 + 20) + 9")
    samples = [{"problem_id": 7, "prediction": text, "is_correct": bool(task.verify(problem, task.extract_answer(text)))}
               for text in (RIGHT_WRONG_SUM, WRONG, WRONG, OTHER_START)]
    assert [s["is_correct"] for s in samples] == [True, False, False, False]
    rows = sampled_step_rows(task, {7: problem}, samples)
    by_start = {r["completions"][1]: r for r in rows}
    assert len(rows) == 3   # the repeated wrong answer once
    right, wrong, other = by_start["25 + 20 = 40. Left: 9, 40"], by_start["25 + 20 = 58. Left: 9, 58"], \
        by_start["25 - 20 = 5. Left: 9, 5"]
    assert right["completions"] == ["", "25 + 20 = 40. Left: 9, 40", "40 + 9 = 54. Left: 54", "(25 + 20) + 9"]
    assert right["prompt"] == task.question(problem) and right["problem"] == problem.key
    # The opening (empty) step is shared by all 4 answers, 1 right: good, value 1/4. Each answer's own steps
    # carry its own verdict: the wrong sum that led to a right answer is good, for what it led to.
    assert right["labels"] == [True, True, True, True] and right["values"] == [0.25, 1.0, 1.0, 1.0]
    assert wrong["labels"] == [True, False, False, False] and wrong["values"] == [0.25, 0.0, 0.0, 0.0]
    assert other["labels"] == [True, False, False, False]
    # Two answers share their first two steps: the prefix is good when either was right.
    shared = sampled_step_rows(task, {7: problem}, [{"problem_id": 7, "prediction": RIGHT, "is_correct": True},
                                                    {"problem_id": 7, "prediction": RIGHT.replace("(25 + 20) + 9", "(25 + 9) + 20"),
                                                     "is_correct": True},
                                                    {"problem_id": 7, "prediction": RIGHT.replace("45 + 9 = 54", "45 - 9 = 36")
                                                     .replace("Left: 54", "Left: 36"), "is_correct": False}])
    wrong_second = [r for r in shared if r["completions"][2] == "45 - 9 = 36. Left: 36"][0]
    assert wrong_second["labels"] == [True, True, False, False]
    assert wrong_second["values"] == [2 / 3, 2 / 3, 0.0, 0.0]


SMOKE = ["name=evo", "policy=scripted", "train=scratch", "linearize=shortcut", "task.n_train=12", "task.n_test=4",
         "eval.n_problems=4", "train.logging_steps=1", "train.per_device_train_batch_size=4", "explore.progress=false",
         "search=dfs", "search.k=2", "search.max_nodes=8", "search.max_expansions=4", "search.max_depth=3",
         # a 2-layer, 64-wide student that learns its 12 training answers by heart (tests/test_evolve_expert.py)
         "train.max_steps=150", "train.learning_rate=3e-3", "train.student.layers=2", "train.student.width=64",
         "train.student.heads=2", "eval.temperature=0.3", "eval.max_tokens=80"]
SCORER = ["prm.data=samples", "prm.samples=4", "prm.lora=false", "prm.max_steps=4", "prm.batch_size=8",
          "prm.max_length=96", "export.test_fraction=0.3"]


def _cfg(tmp_path: Path, *overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        return compose(config_name="config", overrides=[
            *SMOKE, f"workdir={tmp_path / 'out'}", f"store.url=sqlite:///{tmp_path / 'evo.db'}", *overrides])


@pytest.fixture(scope="module")
def student(tmp_path_factory) -> tuple[Path, Path]:
    """A folder with a store holding round 0 of an evolve run, and its student."""
    tmp = tmp_path_factory.mktemp("prm-samples")
    evolve.run(_cfg(tmp, "evolve.rounds=1", "evolve.prm=true", "evolve.prm_base=round", *SCORER, "eval.scaling=[1,2]"))
    return tmp, tmp / "out" / "evolve" / "round-0" / "models" / "shortcut"


def test_one_evolve_command_gives_a_scorer_of_the_rounds_own_answers_that_ranks_its_eval_samples(student):
    """`evolve.prm=true evolve.prm_base=round prm.data=samples`: the round's student answers the training
    problems, a scorer starting from it learns from those answers, and the round's eval ranks with it."""
    tmp, model = student
    with TraceStore(f"sqlite:///{tmp / 'evo.db'}") as store:
        sampled = store.get_run("evo/round-0", PRM_SAMPLE_STAGE)
        assert sampled["stats"]["stamp"]["model"] == str(model) and sampled["stats"]["samples"] == 48
        scorer = json.loads((tmp / "out" / "evolve" / "round-0" / "prm" / "prm.json").read_text())
        assert scorer["stamp"]["settings"]["model"] == str(model) and "samples" in scorer["stamp"]
        scaling = store.get_run("evo/round-0", "eval")["stats"]["scaling"]["results"]
        strategies = {row["strategy"] for row in scaling}
        assert {"majority", "prm_best", "prm_weighted"} <= strategies


def test_the_scorer_learns_from_the_students_stored_answers_and_a_rerun_redoes_nothing(student, capsys):
    tmp, model = student
    cfg = _cfg(tmp, *SCORER, f"prm.model={model}", "name=own")
    result = prm.run(cfg)
    store = TraceStore(cfg.store.url)
    sampled = store.get_run("own", PRM_SAMPLE_STAGE)
    samples = store.eval_samples(sampled["id"])
    task = make_task(cfg.task)
    problems = {p["id"]: Problem.from_row(p) for p in store.problems(split="train")}
    assert len(problems) == 12 and len(samples) == 48 and {s["problem_id"] for s in samples} == set(problems)
    for s in samples:   # is_correct: the task's verifier on the stored answer
        assert s["is_correct"] == bool(task.verify(problems[s["problem_id"]], task.extract_answer(s["prediction"])))
    right = sum(s["is_correct"] for s in samples)
    assert 0 < right < 48 and sampled["stats"]["verified"] == right
    assert sampled["stats"]["stamp"]["model_sha256"] == evolve.model_digest(model)
    # The rows rebuilt from the stored answers, independently: a step prefix is good when a right answer
    # of the same problem starts with it.
    expected = {}
    for s in samples:
        steps, tail = task.completion_steps(s["prediction"])
        path = tuple([task.quote(x) for x in steps] + ([task.quote(tail)] if tail else []))
        expected[(problems[s["problem_id"]].key, path)] = [
            any(o["is_correct"] for o in samples if o["problem_id"] == s["problem_id"] and
                tuple(answer_path(task, o["prediction"]))[:i] == path[:i]) for i in range(1, len(path) + 1)]
    trained = result["train"]
    assert trained["paths"] + result["test_paths"] == len(expected)
    meta = json.loads((Path(cfg.prm.dir) / "prm.json").read_text())
    assert meta["stamp"]["samples"]["samples"] == 4 and result["graded"]["prm vs stored labels"]["steps"] > 0
    assert "prm vs oracle" not in result["graded"]   # no tree nodes to read the oracle from
    assert store.get_run("own", "prm")["status"] == "done" and store.get_run("own", "explore") is None
    # A re-run reads the answers back and keeps the scorer.
    capsys.readouterr()
    prm.run(cfg)
    out = capsys.readouterr().out
    assert "not sampled again" in out and "was trained with these settings" in out
    assert len(store.eval_samples(store.get_run("own", PRM_SAMPLE_STAGE)["id"])) == 48
    store.close()


def answer_path(task, prediction: str) -> list[str]:
    steps, tail = task.completion_steps(prediction)
    return [task.quote(x) for x in steps] + ([task.quote(tail)] if tail else [])


def test_a_model_with_no_right_answer_ends_in_one_line_with_no_scorer(tmp_path, tiny_model_dir):
    """A randomly initialised model answers nothing right: no good step to learn, one line, no scorer."""
    cfg = _cfg(tmp_path, *SCORER, f"prm.model={tiny_model_dir}", "name=cold", "prm.samples=1", "eval.max_tokens=16")
    with pytest.raises(StageError, match=r"^the sampled answers of 'cold' has \d+ training paths, 0 good and \d+ "
                                         r"mistaken steps: a step scorer needs both good and mistaken steps "
                                         r"\(sample more answers: prm.samples, task.n_train\)$"):
        prm.run(cfg)
    with TraceStore(cfg.store.url) as store:
        assert store.get_run("cold", "prm") is None
        assert store.get_run("cold", PRM_SAMPLE_STAGE)["stats"]["verified"] == 0
    assert not (tmp_path / "out" / "prm").exists()


@pytest.mark.parametrize("override,message", [
    ("prm.samples=0", "journeyforge prm: prm.samples must be an integer >= 1, got 0"),
    ("prm.data=answers", "journeyforge prm: prm.data='answers': choose one of export, samples"),
    ("prm.label_source=oracle", "journeyforge prm: prm.label_source=oracle chooses among the export's step labels: "
                                "prm.data=samples labels steps by the sampled answers' verdicts; leave it null"),
])
def test_bad_options_are_one_line_with_nothing_written(tmp_path, override, message):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run([sys.executable, "-m", "journeyforge.cli", "prm", f"workdir={tmp_path / 'out'}",
                             f"store.url=sqlite:///{tmp_path / 'p.db'}", "prm.data=samples", override],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode != 0 and result.stderr.strip().splitlines() == [message], result.stderr
    assert not (tmp_path / "p.db").exists() and not (tmp_path / "out").exists()
