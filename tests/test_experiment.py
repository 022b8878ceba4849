"""`journeyforge experiment` end to end on the smoke preset: real SQLite, real TRL steps on a tiny
random model, a Hydra multirun over seeds into one store, a report whose numbers are the stored
answers', and resume."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from datasets import load_from_disk
from hydra import compose, initialize_config_dir

from analysis.stats import bootstrap_mean
from db import TraceStore
from journeyforge.cli import CONF_DIR
from journeyforge.stages import experiment, explore
from journeyforge.stages.common import StageError

MIXED = "+experiment.arms.mixed={kind: journey, linearize: {backtracks: [1, 1, 1], checks: 0.5}, train: {mask_mistakes: true}}"


def _cfg(overrides: list[str]):
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        return compose(config_name="config", overrides=overrides)


def _common(tmp_path: Path, model: str) -> list[str]:
    return ["experiment=smoke", f"workdir={tmp_path / 'out'}", f"store.url=sqlite:///{tmp_path / 'traces.db'}",
            f"policy.model={model}", "explore.progress=false", "task.n_train=10", "task.n_test=5",
            "eval.n_problems=5", "eval.max_tokens=12", "train.per_device_train_batch_size=2",
            "experiment.resamples=300"]


def test_experiment_multirun_over_seeds_reports_the_stored_answers_and_resumes(tmp_path, tiny_model_dir):
    common = _common(tmp_path, str(tiny_model_dir))
    # Trees grown by the scripted policy (the tiny random model solves nothing) under the same name.
    explore.run(_cfg([o for o in common if not o.startswith("policy.model=")] + ["policy=scripted"]))
    env = dict(os.environ, ONEDNN_MAX_CPU_ISA="AVX512_CORE_BF16", HYDRA_FULL_ERROR="1")
    proc = subprocess.run([sys.executable, "-m", "journeyforge.cli", "experiment", "-m", "experiment.seeds=[0],[1]",
                           *common, MIXED, f"hydra.sweep.dir={tmp_path / 'sweep'}"],
                          capture_output=True, text=True, env=env, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    store = TraceStore(f"sqlite:///{tmp_path / 'traces.db'}")
    ev = store.get_run("experiment-smoke/experiment", "eval")
    labels = {r["model"] for r in store.evals(ev["id"])}
    assert labels == {"base", "shortcut/s0", "shortcut/s1", "journey/s0", "journey/s1", "mixed/s0", "mixed/s1"}
    # Sampled answers of the baseline (experiment.samples=2 in the smoke preset), none for the others.
    samples = store.eval_samples(ev["id"])
    assert {r["model"] for r in samples} == {"shortcut/s0", "shortcut/s1"} and len(samples) == 2 * 2 * 5
    # Matched data: every arm trained on the same problems, the same number of examples each.
    arms = {name: store.trajectories(run_id=store.get_run(f"experiment-smoke/{name}", "linearize")["id"])
            for name in ("shortcut", "journey", "mixed")}
    trees = {name: {r["tree_id"] for r in rows} for name, rows in arms.items()}
    assert trees["shortcut"] == trees["journey"] == trees["mixed"] and trees["shortcut"]
    assert any(sp["role"] == "check" for r in arms["mixed"] for sp in r["spans"] or [])
    # The report (of the second job) covers both seeds, and its accuracies are the stored answers'.
    report = (tmp_path / "out" / "experiment" / "report.md").read_text()
    for png in ("accuracy.png", "compute.png"):
        assert (tmp_path / "out" / "experiment" / png).stat().st_size > 5000
    test_ids = sorted(r["problem_id"] for r in store.evals(ev["id"], "base"))
    rows = {(r["model"], r["problem_id"]): r["is_correct"] for r in store.evals(ev["id"])}
    for arm in ("shortcut", "journey", "mixed"):
        matrix = np.array([[rows[(f"{arm}/s{s}", p)] for p in test_ids] for s in (0, 1)], float)
        line = next(line for line in report.splitlines() if line.startswith(f"| {arm} |"))
        assert f"| {arm} | " in line and f"| 2 | {len(test_ids)} | {bootstrap_mean(matrix, 300, seed=0).percent()} |" in line
    assert "## Compute-matched" in report and "## Verdict" in report and "mask_mistakes=True" in report
    assert re.search(r"\| mixed/s1 \|.*mistakes masked", report) and not re.search(r"\| journey/s1 \|.*masked", report)
    # Resume: the same command again trains and answers nothing new.
    out = experiment.run(_cfg(common + [MIXED, "experiment.seeds=[0,1]"]))
    assert all(r.get("reused") for r in out["trained"].values())
    assert store.get_run("experiment-smoke/experiment", "eval")["stats"]["fingerprints"].keys() >= labels
    # report_only: the same report from the stored rows alone, with no model on disk and no row written.
    shutil.rmtree(tmp_path / "out" / "models")
    (tmp_path / "out" / "experiment" / "report.md").unlink()
    runs = [(r["id"], r["status"], r["finished_at"]) for r in store.runs()]
    n_trajectories = len(store.trajectories())
    experiment.run(_cfg(common + [MIXED, "experiment.seeds=[0,1]", "experiment.report_only=true"]))
    again = (tmp_path / "out" / "experiment" / "report.md").read_text()
    def accuracy_lines(text):
        return [line for line in text.split("## Compute-matched")[0].splitlines() if line.startswith("| ")]
    assert accuracy_lines(again) == accuracy_lines(report) and len(accuracy_lines(again)) == 5  # header, 4 arms
    assert [(r["id"], r["status"], r["finished_at"]) for r in store.runs()] == runs
    assert len(store.trajectories()) == n_trajectories
    with pytest.raises(StageError, match=r"no answers of shortcut/s2, journey/s2, mixed/s2 to all 5 held-out"):
        experiment.run(_cfg(common + [MIXED, "experiment.seeds=[0,1,2]", "experiment.report_only=true"]))


GRPO = ("+experiment.arms.grpo={kind: rl, init: shortcut, rl: {max_steps: 1, num_generations: 2, "
        "per_device_train_batch_size: 2, max_completion_length: 8}}")


def test_an_rl_arm_starts_grpo_from_its_init_arms_adapter_and_is_evaluated_beside_it(tmp_path, tiny_model_dir):
    common = _common(tmp_path, str(tiny_model_dir)) + ["~experiment.arms.journey", "experiment.seeds=[0]",
                                                        "experiment.sample_arms=[]"]
    explore.run(_cfg([o for o in common if not o.startswith("policy.model=")] + ["policy=scripted"]))
    out = experiment.run(_cfg(common + [GRPO]))

    store = TraceStore(f"sqlite:///{tmp_path / 'traces.db'}")
    run = store.get_run("experiment-smoke/grpo-s0", "rl")
    assert run["status"] == "done" and run["stats"]["steps"] == 1
    adapter = tmp_path / "out" / "models" / "grpo-s0"
    record = json.loads((adapter / "journeyforge_rl.json").read_text())
    assert record["init_adapter"] == str(tmp_path / "out" / "models" / "shortcut-s0")
    # Every explored training problem is a prompt, solved or not; no held-out one.
    prompts = load_from_disk(str(tmp_path / "out" / "experiment" / "rl-prompts"))["train"]
    explore_run = store.get_run("experiment-smoke", "explore")
    assert sorted(prompts["problem"]) == sorted(t["problem"]["key"] for t in store.trees(explore_run["id"]))
    ev = store.get_run("experiment-smoke/experiment", "eval")
    assert {r["model"] for r in store.evals(ev["id"])} == {"base", "shortcut/s0", "grpo/s0"}
    report = (tmp_path / "out" / "experiment" / "report.md").read_text()
    assert "## GRPO" in report and re.search(r"\| grpo/s0 \| shortcut \| 10 \| 1 \|", report)
    assert re.search(r"^\| grpo \| rl \| 1 \| 5 \|", report, re.M)
    # Resume: nothing is trained or answered again.
    again = experiment.run(_cfg(common + [GRPO]))
    assert all(r.get("reused") for r in again["trained"].values()) and "grpo/s0" in out["trained"]


def test_a_bad_arm_is_one_line_naming_the_option(tmp_path):
    env = dict(os.environ, ONEDNN_MAX_CPU_ISA="AVX512_CORE_BF16")
    for override, expected in [
        ("+experiment.arms.x={kind: journy}", "experiment.arms.x.kind='journy'"),
        ("+experiment.arms.x={kind: journey, linearize: {backtrack: [1]}}", "experiment.arms.x.linearize.backtrack"),
        ("+experiment.arms.x={kind: journey, train: {mask_mistake: true}}", "experiment.arms.x.train.mask_mistake"),
        ("experiment.baseline=nope", "experiment.baseline='nope'"),
        ("+experiment.arms.x={kind: rl, init: nope}", "experiment.arms.x.init='nope'"),
        ("+experiment.arms.x={kind: rl, init: shortcut, rl: {max_step: 1}}", "experiment.arms.x.rl.max_step"),
        ("+experiment.arms.x={kind: shortcut, init: journey}", "experiment.arms.x: init and rl are options of rl arms"),
    ]:
        proc = subprocess.run([sys.executable, "-m", "journeyforge.cli", "experiment", override,
                               f"store.url=sqlite:///{tmp_path / 'never.db'}"],
                              capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
        assert proc.returncode != 0
        assert expected in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "never.db").exists()
