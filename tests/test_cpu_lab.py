"""The CPU laboratory end to end at smoke size: symbolic trees -> matched shortcut / stream / journey
data -> students trained from scratch (a few thousand parameters, a few steps) -> stored eval rows;
then a trained student loads as any model (`policy=hf policy.model=<dir>`) and grows a tree."""
from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir

from db import TraceStore
from journeyforge.cli import CONF_DIR
from journeyforge.stages import experiment, explore
from search.tasks.countdown.arithmetic import uses_exactly

SMOKE = ["task.n_train=40", "task.n_test=6", "eval.n_problems=6", "eval.max_tokens=40", "experiment.seeds=[0]",
         "experiment.samples=2", "experiment.resamples=200", "train.max_steps=2", "train.logging_steps=1",
         "train.per_device_train_batch_size=4", "train.student.layers=1", "train.student.width=16",
         "train.student.heads=2", "explore.progress=false"]


def _cfg(tmp_path: Path, *overrides: str):
    select = [] if any(o.startswith("experiment.select=") for o in overrides) else \
        ["experiment.select=[shortcut,stream,journey]"]   # the preset's GRPO arms: their own test
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        return compose(config_name="config", overrides=[
            "experiment=cpu_lab", f"workdir={tmp_path / 'out'}", f"store.url=sqlite:///{tmp_path / 'lab.db'}",
            *SMOKE, *select, *overrides])


def test_cpu_lab_smoke_from_symbolic_trees_to_stored_eval_rows(tmp_path):
    result = experiment.run(_cfg(tmp_path))
    store = TraceStore(f"sqlite:///{tmp_path / 'lab.db'}")
    run = store.get_run("experiment-cpu-lab", "explore")
    trees = store.trees(run["id"])
    assert len(trees) == 40 and all(t["status"] == "done" for t in trees)
    # Symbolic trees: no model wrote these steps, and none is illegal.
    labels = {r["label"] for t in trees[:5] for r in store.nodes(t["id"])}
    assert "invalid" not in labels and "solution" in labels
    # Every arm trained from scratch, a small full model with its own tokenizer and tokens/s.
    for label in ("shortcut/s0", "stream/s0", "journey/s0"):
        summary = result["trained"][label]
        assert summary["parameters"] < 20_000 and summary["tokens_per_s"] > 0
    models = tmp_path / "out" / "models"
    assert {p.name for p in models.iterdir()} == {"shortcut-s0", "stream-s0", "journey-s0"}
    assert (models / "stream-s0" / "tokenizer.json").exists() and not (models / "stream-s0" / "adapter_config.json").exists()
    # Stored answers for every arm on the held-out problems; an independent check agrees with each row.
    ev = store.get_run("experiment-cpu-lab/experiment", "eval")
    rows = store.evals(ev["id"])
    assert {r["model"] for r in rows} == {"shortcut/s0", "stream/s0", "journey/s0"} and len(rows) == 3 * 6
    problems = {p["id"]: p for p in store.problems(split="test")}
    train_targets = {p["payload"]["target"] for p in store.problems(split="train")}
    for r in rows:
        p = problems[r["problem_id"]]
        assert p["payload"]["target"] not in train_targets
        independent = isinstance(r["answer"], str) and uses_exactly(r["answer"], p["payload"]["nums"],
                                                                    p["payload"]["target"])
        assert bool(r["is_correct"]) == independent
    assert (tmp_path / "out" / "experiment" / "report.md").exists()

    # A trained student is the explore policy of a later run, like any model.
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        later = compose(config_name="config", overrides=[
            "name=lab-student-explores", f"workdir={tmp_path / 'later'}", f"store.url=sqlite:///{tmp_path / 'lab.db'}",
            "policy=hf", f"policy.model={models / 'stream-s0'}", "task.prompt_format=question", "task.n_train=2",
            "task.n_test=1", "search=dfs", "search.k=2", "explore.max_waves=1", "explore.max_tokens=8",
            "explore.progress=false"])
    explore.run(later)
    run = store.get_run("lab-student-explores", "explore")
    assert sum(len(store.nodes(t["id"])) for t in store.trees(run["id"])) >= 4   # 2 roots + their samples
    print("cpu lab smoke times:", {k: round(v, 1) for k, v in result["times"].items()})


def test_cpu_lab_grpo_arms_train_whole_students_and_are_evaluated_beside_their_starts(tmp_path):
    """GRPO from a from-scratch student: no LoRA, every parameter trains, the result is a whole model
    with the start's tokenizer and record, evaluated like its start. Run as parallel jobs (two worker
    processes), so GRPO waits for its start and the answers come back to one eval run."""
    small = {"max_steps": 1, "num_generations": 2, "per_device_train_batch_size": 2, "max_completion_length": 24}
    result = experiment.run(_cfg(
        tmp_path, "experiment.select=[shortcut,stream,grpo_stream,grpo_shortcut]", "experiment.jobs=2",
        *(f"experiment.arms.{arm}.rl.{k}={v}" for arm in ("grpo_stream", "grpo_shortcut") for k, v in small.items())))
    store = TraceStore(f"sqlite:///{tmp_path / 'lab.db'}")
    for name, start in (("grpo_stream", "stream"), ("grpo_shortcut", "shortcut")):
        out = tmp_path / "out" / "models" / f"{name}-s0"
        assert (out / "config.json").exists() and not (out / "adapter_config.json").exists()
        assert (out / "tokenizer.json").exists() and (out / "journeyforge_sft.json").exists()
        assert result["trained"][f"{name}/s0"]["steps"] == 1
    ev = store.get_run("experiment-cpu-lab/experiment", "eval")
    models = {r["model"] for r in store.evals(ev["id"])}
    assert models == {"shortcut/s0", "stream/s0", "grpo_stream/s0", "grpo_shortcut/s0"}
    assert len(store.evals(ev["id"])) == 4 * 6 and ev["status"] == "done"
    assert set(ev["stats"]["fingerprints"]) == models
    runs = {(r["stage"], r["name"]): r["status"] for r in store.runs()}
    assert all(runs[(stage, f"experiment-cpu-lab/{name}-s0")] == "done"
               for stage, name in (("train", "shortcut"), ("train", "stream"), ("rl", "grpo_stream"),
                                   ("rl", "grpo_shortcut")))
    logs = tmp_path / "out" / "experiment" / "logs"
    assert "GRPO" in (logs / "grpo_stream-s0.log").read_text() and (logs / "eval-stream-s0.log").exists()
    # The same command again trains nothing and answers nothing: everything is stored.
    again = experiment.run(_cfg(
        tmp_path, "experiment.select=[shortcut,stream,grpo_stream,grpo_shortcut]", "experiment.jobs=2",
        *(f"experiment.arms.{arm}.rl.{k}={v}" for arm in ("grpo_stream", "grpo_shortcut") for k, v in small.items())))
    assert all(summary.get("reused") for summary in again["trained"].values())


def test_a_failing_parallel_job_ends_the_experiment_with_its_own_line_and_leaves_no_run_going(tmp_path):
    import pytest

    from journeyforge.stages.common import StageError

    with pytest.raises(StageError, match=r"^train.student.context_length=8 is shorter than"):
        experiment.run(_cfg(tmp_path, "experiment.jobs=2", "train.student.context_length=8"))
    store = TraceStore(f"sqlite:///{tmp_path / 'lab.db'}")
    assert not [r["name"] for r in store.runs() if r["status"] == "running" and r["stage"] != "eval"]
