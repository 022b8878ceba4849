"""`journeyforge evolve` at smoke size: scripted round 0, a from-scratch student trained on its trees
grows round 1; lineage in runs, resume after a kill mid-round, the report, a missing model refused."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from sqlalchemy import text

from db import TraceStore
from journeyforge.cli import CONF_DIR
from journeyforge.settings import ConfigError, validate_config
from journeyforge.stages import evolve
from journeyforge.stages.common import StageError

SMOKE = ["name=evo", "policy=scripted", "train=scratch", "linearize=shortcut", "task.n_train=12", "task.n_test=4",
         "eval.n_problems=4", "eval.max_tokens=40", "train.max_steps=2", "train.logging_steps=1",
         "train.per_device_train_batch_size=4", "train.student.layers=1", "train.student.width=16",
         "train.student.heads=2", "explore.progress=false", "search=dfs", "search.k=2", "search.max_nodes=8",
         "search.max_expansions=4", "search.max_depth=3"]


def _cfg(tmp_path: Path, *overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        return compose(config_name="config", overrides=[
            *SMOKE, f"workdir={tmp_path / 'out'}", f"store.url=sqlite:///{tmp_path / 'evo.db'}", *overrides])


def _counts(store) -> tuple:
    with store.engine.connect() as conn:
        return tuple(conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar()
                     for t in ("runs", "trees", "nodes", "trajectories", "evals"))


def test_two_rounds_lineage_resume_report_and_a_missing_model(tmp_path, capsys):
    evolve.run(_cfg(tmp_path, "evolve.rounds=1"))
    store = TraceStore(f"sqlite:///{tmp_path / 'evo.db'}")
    model = tmp_path / "out" / "evolve" / "round-0" / "models" / "shortcut"
    explore0 = store.get_run("evo/round-0", "explore")
    assert (explore0["round"], explore0["parent_run_id"], explore0["model"], explore0["model_sha256"]) == \
        (0, None, "scripted", None)
    trained = store.get_run("evo/round-0/shortcut", "train")
    assert (trained["round"], trained["parent_run_id"], trained["model"]) == (0, explore0["id"], str(model))
    assert trained["model_sha256"] == evolve.model_digest(model) and len(trained["model_sha256"]) == 64
    assert store.get_run("evo/round-0", "eval")["round"] == 0
    assert len(store.evals(store.get_run("evo/round-0", "eval")["id"])) == 4

    # Killed during round 0's eval: the rerun redoes only the eval, then grows round 1 with round 0's student.
    finished = {s: store.get_run(n, s)["finished_at"] for n, s in
                (("evo/round-0", "explore"), ("evo/round-0", "linearize"), ("evo/round-0", "export"),
                 ("evo/round-0/shortcut", "train"))}
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE runs SET status = 'running' WHERE name = 'evo/round-0' AND stage = 'eval'"))
    capsys.readouterr()
    result = evolve.run(_cfg(tmp_path, "evolve.rounds=2"))
    out = capsys.readouterr().out
    assert {s: store.get_run(n, s)["finished_at"] for n, s in
            (("evo/round-0", "explore"), ("evo/round-0", "linearize"), ("evo/round-0", "export"),
             ("evo/round-0/shortcut", "train"))} == finished
    assert "adapter in" in out and "is up to date" in out   # the student was not trained again
    assert store.get_run("evo/round-0", "eval")["status"] == "done"
    explore1 = store.get_run("evo/round-1", "explore")
    assert (explore1["round"], explore1["parent_run_id"], explore1["model"], explore1["model_sha256"]) == \
        (1, explore0["id"], str(model), trained["model_sha256"])
    assert explore1["config"]["policy"]["backend"] == "hf" and explore1["config"]["task"]["prompt_format"] == "question"
    # Two rebuilt-from-scratch steps make no solver: round 1 grows trees but solves none, and stops there.
    assert "round 1: its trees gave no trajectory to train on" in out
    with store.engine.connect() as conn:
        rounds = conn.execute(text("SELECT round, COUNT(*), SUM(solved) FROM round_trees GROUP BY round ORDER BY round")).all()
        repeated = conn.execute(text("SELECT COUNT(*) FROM repeated_mistakes")).scalar()
    assert [tuple(r) for r in rounds] == [(0, 12, result["report_rows"][0]["solved"]), (1, 12, 0)]
    assert result["report_rows"][0]["solved"] > 0 and repeated == result["report_rows"][1]["mistakes_before"]
    report = (tmp_path / "out" / "evolve" / "report.md").read_text()
    assert "| 0 | scripted | 12 |" in report and f"sha256 {trained['model_sha256'][:12]}" in report
    assert (tmp_path / "out" / "evolve" / "accuracy_by_round.png").stat().st_size > 1000

    # `unsolved` would grow round 1 only on what round 0 left unsolved; `new` cuts the problems in parts.
    cfg = _cfg(tmp_path, "evolve.problems=unsolved")
    keys = [f"k{i}" for i in range(12)]
    solved0 = {t["problem"]["key"] for t in store.trees(explore0["id"]) if t["id"] in set(store.solved(explore0["id"]))}
    train_keys = [t["problem"]["key"] for t in store.trees(explore0["id"])]
    assert evolve._selection(store, cfg, evolve.evolve_settings(cfg), 1, train_keys) == \
        [k for k in train_keys if k not in solved0]
    cfg = _cfg(tmp_path, "evolve.problems=new", "evolve.rounds=3")
    assert evolve._selection(store, cfg, evolve.evolve_settings(cfg), 2, keys) == keys[8:]

    # Round 1 refers to round 0's model; once it is gone the rerun ends in one line and writes nothing.
    shutil.rmtree(model)
    before = _counts(store)
    with pytest.raises(StageError, match=r"^round 1 of evolve run 'evo' is grown by round 0's model .*shortcut, "
                                         r"which is missing; nothing was written"):
        evolve.run(_cfg(tmp_path, "evolve.rounds=2"))
    assert _counts(store) == before
    store.close()


def test_evolve_options_are_checked_before_anything_is_written(tmp_path):
    for option, message in (("evolve.rounds=0", "evolve.rounds must be an integer >= 1, got 0"),
                            ("evolve.problems=some", "evolve.problems='some': choose one of all, unsolved, new")):
        with pytest.raises(ConfigError, match=message):
            validate_config(_cfg(tmp_path, option))
    with pytest.raises(StageError, match=r"evolve.kind=journey is not among the kinds train tunes \(shortcut\)"):
        evolve.run(_cfg(tmp_path, "evolve.kind=journey"))
    assert not (tmp_path / "evo.db").exists()


def test_a_round_name_is_a_valid_run_name_and_round_configs_use_the_rounds_folders(tmp_path):
    cfg = _cfg(tmp_path)
    ev = evolve.evolve_settings(cfg)
    model = tmp_path / "student"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "journeyforge_sft.json").write_text('{"settings": {"format": "prompt_completion"}}')
    rc = evolve.round_config(cfg, ev, 1, model, None)
    validate_config(OmegaConf.merge(rc, {"policy": {"model": "smollm2-135m"}}))  # evo/round-1 passes the name check
    assert rc.name == "evo/round-1" and rc.train.dir == str(tmp_path / "out" / "evolve" / "round-1" / "models")
    assert rc.export.dir == str(tmp_path / "out" / "evolve" / "round-1" / "datasets")
    assert OmegaConf.to_container(rc.policy)["model"] == str(model) and rc.task.prompt_format == "question"
    # The digest follows the model files, not the training record written after them.
    digest = evolve.model_digest(model)
    (model / "journeyforge_sft.json").write_text('{"settings": {}, "data_sha256": "x"}')
    assert evolve.model_digest(model) == digest
    (model / "config.json").write_text('{"n_layer": 2}')
    assert evolve.model_digest(model) != digest
    with pytest.raises(ConfigError, match="name='evo/round-x'"):
        validate_config(_cfg(tmp_path, "name=evo/round-x"))


def test_evolve_rl_tunes_a_from_scratch_student_with_grpo_and_grows_the_next_round_with_it(tmp_path):
    """evolve.rl with train=scratch: GRPO trains the whole student (no LoRA), the round is evaluated
    with the GRPO model, and round 1 is grown by it (its lineage names rl-shortcut)."""
    rl = ["evolve.rl=true", "rl.max_steps=1", "rl.num_generations=2", "rl.per_device_train_batch_size=2",
          "rl.max_completion_length=16"]
    evolve.run(_cfg(tmp_path, "evolve.rounds=2", *rl))
    store = TraceStore(f"sqlite:///{tmp_path / 'evo.db'}")
    grpo = tmp_path / "out" / "evolve" / "round-0" / "models" / "rl-shortcut"
    assert (grpo / "config.json").exists() and not (grpo / "adapter_config.json").exists()
    tuned = store.get_run("evo/round-0/rl-shortcut", "rl")
    assert (tuned["round"], tuned["model"]) == (0, str(grpo)) and tuned["model_sha256"] == evolve.model_digest(grpo)
    evals = store.evals(store.get_run("evo/round-0", "eval")["id"])
    assert {r["model"] for r in evals} >= {"rl-shortcut"} and sum(r["model"] == "rl-shortcut" for r in evals) == 4
    explore1 = store.get_run("evo/round-1", "explore")
    assert (explore1["round"], explore1["model"], explore1["model_sha256"]) == (1, str(grpo), tuned["model_sha256"])
    assert explore1["config"]["policy"]["model"] == str(grpo) and explore1["config"]["policy"]["backend"] == "hf"
    store.close()


def test_evolve_prm_base_round_trains_each_round_s_scorer_from_its_student_and_ranks_its_eval_samples(tmp_path):
    """evolve.prm with prm_base=round (one command for a policy-matched scorer): each round's scorer
    starts from the student the round trained and learns from the round's trees; with eval.scaling the
    round's eval ranks samples with it; round 1's trees are grown by round 0's student, valued by round 0's
    scorer."""
    prm = ["evolve.prm=true", "evolve.prm_base=round", "prm.lora=false", "prm.max_steps=2", "prm.batch_size=4",
           "prm.max_length=64", "eval.scaling=[1,2]", "eval.prm_beam=false", "export.prm_placeholder=none"]
    evolve.run(_cfg(tmp_path, "evolve.rounds=2", *prm))
    store = TraceStore(f"sqlite:///{tmp_path / 'evo.db'}")
    root = tmp_path / "out" / "evolve"
    for k in (0,):  # the smoke student's round-1 trees solve nothing: the run stops after them
        trained = store.get_run(f"evo/round-{k}", "prm")
        assert trained["config"]["prm"]["model"] == str(root / f"round-{k}" / "models" / "shortcut")
        assert (root / f"round-{k}" / "prm" / "metrics.json").is_file()
        evaluated = store.get_run(f"evo/round-{k}", "eval")
        assert evaluated["config"]["eval"]["prm"] == str(root / f"round-{k}" / "prm")
        strategies = {row["strategy"] for row in evaluated["stats"]["scaling"]["results"]}
        assert {"majority", "prm_best", "prm_weighted", "pass"} <= strategies, strategies
    explore1 = store.get_run("evo/round-1", "explore")
    assert explore1["config"]["search"]["value"] == "prm" and explore1["config"]["search"]["prm"] == str(root / "round-0" / "prm")
    store.close()
