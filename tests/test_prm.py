"""The process reward model: step positions, grading figures written out by hand, and the `prm` stage
from a real stepwise export to a trained scorer graded against the stored labels and Countdown's oracle."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from db import TraceStore
from journeyforge.cli import CONF_DIR
from journeyforge.stages import evaluate, explore, export, linearize, prm
from journeyforge.stages.common import StageError
from training.prm import encode_path, grade, path_text, step_targets


def test_path_text_ends_each_step_where_its_score_is_read():
    text, ends = path_text("Make 12.", ["3 + 4 = 7", "7 + 5 = 12"])
    assert text == "Make 12.\n3 + 4 = 7\n7 + 5 = 12\n"
    assert [text[:e] for e in ends] == ["Make 12.\n3 + 4 = 7", "Make 12.\n3 + 4 = 7\n7 + 5 = 12"]


def test_encode_path_reads_each_steps_last_token_and_none_past_the_length(default_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(default_model_dir)
    ids, positions = encode_path(tok, "Use 3, 4, 5 to make 12.", ["3 + 4 = 7", "7 + 5 = 12"], 64)
    assert [tok.decode(ids[: p + 1]).endswith(s) for p, s in zip(positions, ["= 7", "= 12"])] == [True, True]
    _, cut = encode_path(tok, "Use 3, 4, 5 to make 12.", ["3 + 4 = 7", "7 + 5 = 12"], positions[0] + 2)
    assert cut == [positions[0], None]


def test_soft_targets_are_the_monte_carlo_values_where_there_are_any():
    row = {"labels": [True, False, True], "values": [0.75, float("nan"), 0.25]}
    assert step_targets(row, "hard") == [1.0, 0.0, 1.0]
    assert step_targets(row, "soft") == [0.75, 0.0, 0.25]


def test_grade_counts_mistakes_auc_and_first_errors_by_hand():
    truth = [[True, False, False], [True, True], [False]]
    scores = [[0.9, 0.2, 0.6], [0.8, 0.4], [0.7]]
    g = grade(scores, truth, threshold=0.5)
    # mistakes: (0.2 called), (0.6 missed), (0.7 missed); the good 0.4 is a false alarm.
    assert (g["steps"], g["mistakes"]) == (6, 3)
    assert g["precision"] == pytest.approx(1 / 2) and g["recall"] == pytest.approx(1 / 3)
    assert g["f1"] == pytest.approx(0.4)
    # AUC: P(a mistake scores below a good step) over 3 x 3 pairs: 0.2 < all 3; 0.6 < 0.9, 0.8; 0.7 < 0.9, 0.8.
    assert g["auc"] == pytest.approx(7 / 9)
    # first errors: path 1 true 1, predicted 1 (hit); path 2 clean, predicted 1 (miss); path 3 true 0, none (miss).
    assert g["first_error_acc_error_paths"] == pytest.approx(1 / 2)
    assert g["first_error_acc_clean_paths"] == 0.0
    assert g["first_error_f1"] == 0.0


def _cfg(tmp_path: Path, *extra: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        return compose(config_name="config", overrides=[
            "name=p", f"workdir={tmp_path / 'out'}", f"store.url=sqlite:///{tmp_path / 'traces.db'}",
            "policy=scripted", "task.n_train=16", "task.n_test=2", "explore.progress=false",
            "export.test_fraction=0.3", *extra])


def test_prm_stage_trains_a_scorer_and_grades_it_against_labels_and_the_oracle(tmp_path, tiny_model_dir):
    cfg = _cfg(tmp_path, f"prm.model={tiny_model_dir}", "prm.max_steps=3", "prm.batch_size=4", "prm.lora=false")
    explore.run(cfg)
    linearize.run(cfg)
    export.run(cfg)
    out = prm.run(cfg)
    scorer = Path(out["dir"])
    assert (scorer / "config.json").exists() and (scorer / "tokenizer.json").exists()
    metrics = json.loads((scorer / "metrics.json").read_text())
    assert set(metrics["graded"]) == {"prm vs stored labels", "prm vs oracle", "stored labels vs oracle"}
    assert metrics["train"]["steps"] == 3 and metrics["train"]["scored_steps"] > 0
    # Countdown's stored labels come from the exact oracle: they agree with it everywhere.
    assert metrics["graded"]["stored labels vs oracle"]["f1"] == 1.0
    assert 0.0 <= metrics["graded"]["prm vs oracle"]["auc"] <= 1.0
    with TraceStore(cfg.store.url) as store:
        run = store.get_run("p", "prm")
    assert run["status"] == "done" and run["stats"]["graded"]["prm vs stored labels"]["steps"] > 0
    # The same command again reuses the scorer trained with these settings on this export.
    again = prm.run(cfg)
    assert again["train"] == out["train"]

    # search.value=prm: the scorer values every new non-final legal node of a wave, stored on the node.
    grown = explore.run(_cfg(tmp_path, "name=q", "search.value=prm", f"search.prm={scorer}", "task.n_train=4"))
    with TraceStore(cfg.store.url) as store:
        nodes = [n for t in store.trees(grown["run_id"]) for n in store.nodes(t["id"]) if n["parent_id"]]
    scored = [n for n in nodes if n["prm_score"] is not None]
    assert scored and all(0.0 <= n["prm_score"] <= 1.0 for n in scored)
    # Legal steps that leave numbers to combine are scored; illegal and final ones (the verifier's) never.
    assert {n["label"] for n in scored} <= {"valid", "dead_end"}
    assert all(n["prm_score"] is not None for n in nodes if n["depth"] == 1 and n["label"] in ("valid", "dead_end"))
    with TraceStore(cfg.store.url) as store:
        run = store.get_run("q", "explore")
    assert run["config"]["search"]["prm"] == str(scorer)


    # eval.scaling: N samples per held-out problem, strategies on the first N, with the scorer ranking them.
    scaled = evaluate.run(_cfg(tmp_path, "policy=hf", f"policy.model={tiny_model_dir}", "eval.n_problems=2",
                               "eval.max_tokens=6", "eval.scaling=[1,2]", f"eval.prm={scorer}", "train.kinds=[]"))
    with TraceStore(cfg.store.url) as store:
        stats = store.get_run("p", "eval")["stats"]["scaling"]
    assert {(r["strategy"], r["n"]) for r in stats["results"]} == {
        (s, n) for s in ("majority", "prm_best", "prm_weighted", "pass", "prm_beam") for n in (1, 2)}
    assert Path(stats["plot"]).exists() and scaled["run_id"]


def test_strategies_pick_by_vote_by_the_scorer_and_by_weighted_vote():
    from search.tasks import make_task
    from search.tasks.base import Problem
    from training.scaling import strategy_correct

    task = make_task({"name": "countdown"})
    problem = Problem(key="p", payload={"nums": [2, 3, 4], "target": 24}, split="test")
    samples = [{"answer": "2+3+4", "is_correct": False}, {"answer": "2+3+4", "is_correct": False},
               {"answer": "(2+4)*4", "is_correct": False}, {"answer": "2*3*4", "is_correct": True}]
    scores = [0.2, 0.3, 0.1, 0.9]
    # 2 votes for a wrong answer; the scorer's best is the right one; weighted: 0.5 wrong vs 0.9 right.
    assert strategy_correct(task, problem, samples, scores, 4) == {
        "majority": False, "pass": True, "prm_best": True, "prm_weighted": True}
    assert strategy_correct(task, problem, samples, scores, 2) == {
        "majority": False, "pass": False, "prm_best": False, "prm_weighted": False}
    assert "prm_best" not in strategy_correct(task, problem, samples, None, 4)


def test_search_value_prm_refuses_a_missing_scorer_or_one_of_another_task(tmp_path):
    from journeyforge.settings import ConfigError, validate_config

    with pytest.raises(ConfigError, match=r"search.prm=/nowhere: no step scorer there \(no prm.json\)"):
        validate_config(_cfg(tmp_path, "search.value=prm", "search.prm=/nowhere"))
    with pytest.raises(ConfigError, match=r"search.value=prm needs search.prm="):
        validate_config(_cfg(tmp_path, "search.value=prm"))
    scorer = tmp_path / "scorer"
    scorer.mkdir()
    (scorer / "prm.json").write_text(json.dumps({"task": {"name": "math", "dataset": "gsm8k"}}))
    with pytest.raises(ConfigError, match=r"was trained on task math \(dataset gsm8k\), not on this run's countdown"):
        validate_config(_cfg(tmp_path, "search.value=prm", f"search.prm={scorer}"))


def test_prm_stage_refuses_an_export_without_mistakes_and_a_missing_model(tmp_path, tiny_model_dir):
    cfg = _cfg(tmp_path, "policy.error_rate=0.0", f"prm.model={tiny_model_dir}")
    explore.run(cfg)
    linearize.run(cfg)
    export.run(cfg)
    with pytest.raises(StageError, match=r"0 mistaken steps: a step scorer needs both good and mistaken steps"):
        prm.run(cfg)
    with pytest.raises(StageError, match=r"prm.model=/nonexistent/scorer: no such model directory"):
        prm.run(_cfg(tmp_path, "policy.error_rate=0.0", "prm.model=/nonexistent/scorer"))
    with TraceStore(cfg.store.url) as store:
        assert store.get_run("p", "prm") is None
