"""Expert iteration in `journeyforge evolve` (issue 40): rounds that learn from the student's own verified
samples, at smoke size. Round 0 trains a tiny student from scratch long enough to answer some of its
training problems; round 1 samples k answers per training problem from it, keeps the verified ones once
each, and trains on them after round 0's trajectories (`evolve.data=accumulate`); the lineage, the stored
samples, the report. Bad input: k < 1 and an unknown data mode (one line each, through the command line),
and a round whose samples hold no verified answer."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from datasets import load_from_disk
from hydra import compose, initialize_config_dir
from sqlalchemy import text

from db import TraceStore
from journeyforge.evolve_settings import KEEP_CHOICES
from journeyforge.overrides import CONF_DIR
from journeyforge.stages import evolve
from search.tasks import make_task
from search.tasks.base import Problem
from training import expert_samples
from training.expert_samples import distinct, steps_valid

SMOKE = ["name=evo", "policy=scripted", "train=scratch", "linearize=shortcut", "task.n_train=12", "task.n_test=4",
         "eval.n_problems=4", "eval.max_tokens=40", "train.logging_steps=1", "train.per_device_train_batch_size=4",
         "train.student.layers=1", "train.student.width=16", "train.student.heads=2", "explore.progress=false",
         "search=dfs", "search.k=2", "search.max_nodes=8", "search.max_expansions=4", "search.max_depth=3"]
# Round 0's student learns its few training answers by heart (a 2-layer, 64-wide student, 150 steps at a
# high rate): sampled at a low temperature it answers several of them right, some in more than one way.
MEMORISE = ["train.max_steps=150", "train.learning_rate=3e-3", "train.student.layers=2", "train.student.width=64",
            "train.student.heads=2", "eval.temperature=0.3", "eval.max_tokens=80"]


def _cfg(tmp_path: Path, *overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        return compose(config_name="config", overrides=[
            *SMOKE, f"workdir={tmp_path / 'out'}", f"store.url=sqlite:///{tmp_path / 'evo.db'}", *overrides])


def _cli(tmp_path: Path, *overrides: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run([sys.executable, "-m", "journeyforge.cli", "evolve", *SMOKE, f"workdir={tmp_path / 'out'}",
                           f"store.url=sqlite:///{tmp_path / 'evo.db'}", *overrides],
                          capture_output=True, text=True, env=env, timeout=300)


def test_k_below_1_an_unknown_data_mode_and_grpo_groups_that_cannot_fit_are_one_line_each_with_nothing_written(tmp_path):
    for override, message in (
            ("evolve.samples=0", "journeyforge evolve: evolve.samples must be an integer >= 1 (answers sampled per "
                                 "training problem), got 0"),
            ("evolve.data=everything", "journeyforge evolve: evolve.data='everything': choose one of round, accumulate"),
            ("evolve.learn_from=answers", "journeyforge evolve: evolve.learn_from='answers': choose one of trees, "
                                          "samples, both"),
            # GRPO after SFT in every round (evolve.rl) with groups that cannot fit its batch
            ("rl.num_generations=3", "journeyforge evolve: rl.per_device_train_batch_size x "
                                     "rl.gradient_accumulation_steps (4) must be a multiple of rl.num_generations (3)"),
            ("rl.num_generations=1", "journeyforge evolve: rl.num_generations must be >= 2 (GRPO compares completions "
                                     "within a group), got 1")):
        extra = ([] if "learn_from" in override else ["evolve.learn_from=samples"]) + (
            ["evolve.rl=true", "rl.per_device_train_batch_size=4"] if override.startswith("rl.") else [])
        result = _cli(tmp_path, *extra, override)
        assert result.returncode != 0 and result.stderr.strip().splitlines() == [message], result.stderr
    assert not (tmp_path / "evo.db").exists() and not (tmp_path / "out" / "evolve").exists()


def test_settings_that_cannot_work_together_are_refused_before_the_store_is_opened(tmp_path):
    from journeyforge.settings import ConfigError

    for overrides, message in (
            (["train=lora", "evolve.init=continue"], "evolve.init=continue trains round k-1's whole model further"),
            (["evolve.learn_from=samples", "eval.temperature=0"], "evolve.samples=8 with eval.temperature=0"),
            (["evolve.learn_from=samples", "evolve.prm=true"], "evolve.prm=true trains each round's step scorer"),
            (["evolve.prm_base=round"], "evolve.prm_base=round sets where each round's step scorer starts: it needs "
                                        "evolve.prm=true"),
            (["evolve.prm=true", "evolve.prm_base=policy"], "evolve.prm_base='policy': choose one of configured, round"),
            (["train=lora", "evolve.prm=true", "evolve.prm_base=round"],
             "evolve.prm_base=round starts each round's step scorer from the round's whole model")):
        with pytest.raises(ConfigError, match=message):
            evolve.run(_cfg(tmp_path, *overrides))
    assert not (tmp_path / "evo.db").exists()
    assert KEEP_CHOICES == expert_samples.KEEP_CHOICES


def test_distinct_answers_and_the_step_check_of_a_sampled_answer():
    assert distinct(["<think>\n1 + 2 = 3\n</think>", "<think>\n1 + 2 = 3 \n</think>", "<think>\n2 + 1 = 3\n</think>"]) \
        == ["<think>\n1 + 2 = 3\n</think>", "<think>\n2 + 1 = 3\n</think>"]
    task = make_task({"name": "countdown"})
    problem = Problem(key="2,6,7->21", payload={"nums": [2, 6, 7], "target": 21})
    good = "<think>\n6 / 2 = 3. Left: 7, 3\n7 * 3 = 21. Left: 21\n</think>\n<answer>7 * (6 / 2)</answer>"
    slip = "<think>\n6 / 2 = 4. Left: 7, 4\n7 * 3 = 21. Left: 21\n</think>\n<answer>7 * (6 / 2)</answer>"
    assert task.verify(problem, task.extract_answer(slip))          # the answer alone is right ...
    assert steps_valid(task, problem, good) and not steps_valid(task, problem, slip)   # ... its first step is not
    assert not steps_valid(task, problem, good.replace("</think>\n", "</think>\n</think>\n"))


def _runs(store) -> list[tuple]:
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT id, name, stage, status, finished_at FROM runs ORDER BY id"))]


def test_a_round_whose_samples_hold_no_verified_answer_ends_in_one_line_and_keeps_round_0(tmp_path, capsys):
    """Round 0's student, trained 2 steps, answers nothing right: round 1 samples 2 answers for each of
    the 12 training problems, none verified; the evolve run stops there with round 0 as it was."""
    evolve.run(_cfg(tmp_path, "train.max_steps=2", "evolve.rounds=1"))
    store = TraceStore(f"sqlite:///{tmp_path / 'evo.db'}")
    before = _runs(store)
    capsys.readouterr()
    result = evolve.run(_cfg(tmp_path, "train.max_steps=2", "evolve.rounds=3", "evolve.learn_from=samples",
                             "evolve.samples=2"))
    out = capsys.readouterr().out
    line = ("[evolve] round 1: none of the 24 answers sampled for its 12 training problems is verified "
            "(evolve.keep=answer): nothing to train on; stopping after round 1's samples, the rounds before it kept")
    assert line in out.splitlines()
    assert _runs(store)[:len(before)] == before   # round 0's runs untouched
    sampled = store.get_run("evo/round-1", "sample")
    assert (sampled["status"], sampled["round"], sampled["stats"]["problems"], sampled["stats"]["verified"]) == \
        ("done", 1, 12, 0)
    assert len(store.eval_samples(sampled["id"])) == 24
    assert store.get_run("evo/round-1/shortcut", "train") is None and store.get_run("evo/round-2", "sample") is None
    assert [r["round"] for r in result["report_rows"]] == [0, 1]
    assert "| 1 | - | 0 of 12 (0.0%) | 24 | 0 | 0 | - |" in result["text"]
    store.close()


def test_expert_iteration_samples_keeps_the_verified_answers_and_trains_on_every_rounds_data(tmp_path, capsys):
    expert = ["evolve.learn_from=samples", "evolve.data=accumulate", "evolve.samples=4", "evolve.rounds=2"]
    result = evolve.run(_cfg(tmp_path, *MEMORISE, *expert))
    out = capsys.readouterr().out
    store = TraceStore(f"sqlite:///{tmp_path / 'evo.db'}")
    student0 = tmp_path / "out" / "evolve" / "round-0" / "models" / "shortcut"
    explore0 = store.get_run("evo/round-0", "explore")
    sampled = store.get_run("evo/round-1", "sample")
    # Round 1 grew no trees: it sampled 4 answers for each of the 12 training problems from round 0's student.
    assert store.get_run("evo/round-1", "explore") is None
    assert (sampled["round"], sampled["parent_run_id"], sampled["model"]) == (1, explore0["id"], str(student0))
    assert sampled["model_sha256"] == evolve.model_digest(student0)
    samples = store.eval_samples(sampled["id"], "shortcut")
    assert len(samples) == 48 and sampled["stats"]["verified"] == sum(s["is_correct"] for s in samples) > 0
    task = make_task(_cfg(tmp_path).task)
    problems = {p["id"]: Problem.from_row(p) for p in store.problems(split="train")}
    for s in samples:   # "verified" is the task's verifier on the stored answer, in a well-formed trace
        assert s["is_correct"] == (task.verify(problems[s["problem_id"]], task.extract_answer(s["prediction"]))
                                   and s["prediction"].startswith("<think>"))
    # Round 1's set: round 0's trajectories, then each distinct verified answer once, tagged with its round.
    data = load_from_disk(str(tmp_path / "out" / "evolve" / "round-1" / "datasets" / "expert" / "shortcut"))["train"]
    round0 = load_from_disk(str(tmp_path / "out" / "evolve" / "round-0" / "datasets" / "sft" / "shortcut"))["train"]
    keys = [(r["problem"], " ".join(r["completion"].split())) for r in data]
    assert len(keys) == len(set(keys))
    assert [r["completion"] for r in data if r["round"] == 0] == round0["completion"]
    # (a student that learned its data by heart mostly samples round 0's own examples: those stay round 0's)
    kept = {(problems[s["problem_id"]].key, " ".join(s["prediction"].split())) for s in samples if s["is_correct"]}
    assert set(keys[len(round0):]) == kept - set(keys[:len(round0)])
    assert {r["source"] for r in data if r["round"] == 1} <= {"samples"}
    trained = store.get_run("evo/round-1/shortcut", "train")
    by_round = {str(r): sum(1 for x in data["round"] if x == r) for r in sorted(set(data["round"]))}
    assert trained["stats"]["examples_by_round"] == by_round and trained["parent_run_id"] == sampled["id"]
    assert store.get_run("evo/round-1", "eval")["round"] == 1 and f"round 0: {len(round0)}" in out
    # The report: training problems solved by samples, the lineage of the examples, round 1 against round 0.
    rows = result["report_rows"]
    assert rows[1]["sampled"]["solved"] == len({s["problem_id"] for s in samples if s["is_correct"]})
    assert rows[1]["examples_by_round"] == {int(r): n for r, n in by_round.items()}
    assert f"| 1 | - | {rows[1]['sampled']['solved']} of 12 " in result["text"]
    assert result["paired"]["n"] == 4 and "Round 1 against round 0 on the same 4 held-out problems" in result["text"]
    # A re-run redoes nothing.
    capsys.readouterr()
    evolve.run(_cfg(tmp_path, *MEMORISE, *expert))
    assert "round 1 (evo/round-1) is finished; not redone" in capsys.readouterr().out
    store.close()
