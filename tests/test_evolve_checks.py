"""`journeyforge evolve` checks every round before round 0 runs (issue 38), through the real command line:
`evolve.policy` against the next rounds' backend, the documented `evolve.policy={device: cpu}`, a folder
`evolve.dir` cannot be, and a damaged model left by round k-1. Each fault is one line on stderr, and the
store and the rounds' folders are as they were."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from db import TraceStore
from journeyforge.overrides import check_overrides
from journeyforge.stages import evolve

SMOKE = ["name=evo", "policy=scripted", "train=scratch", "linearize=shortcut", "task.n_train=12", "task.n_test=4",
         "eval.n_problems=4", "eval.max_tokens=40", "train.max_steps=2", "train.logging_steps=1",
         "train.per_device_train_batch_size=4", "train.student.layers=1", "train.student.width=16",
         "train.student.heads=2", "explore.progress=false", "search=dfs", "search.k=2", "search.max_nodes=8",
         "search.max_expansions=4", "search.max_depth=3"]


def _cli(tmp_path: Path, *overrides: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run([sys.executable, "-m", "journeyforge.cli", "evolve", *SMOKE, f"workdir={tmp_path / 'out'}",
                           f"store.url=sqlite:///{tmp_path / 'evo.db'}", *overrides],
                          capture_output=True, text=True, env=env, timeout=600)


def _one_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_a_bad_evolve_policy_option_is_refused_before_round_0_with_nothing_written(tmp_path):
    for override in ("+evolve.policy={batchsize: 4}", "evolve.policy={batchsize: 4}"):
        line = _one_line(_cli(tmp_path, override))
        assert line.startswith("journeyforge evolve: evolve.policy.batchsize: unknown option for backend 'hf'")
        assert "round 1's policy" in line and "nothing was written" in line
        assert not (tmp_path / "evo.db").exists() and not (tmp_path / "out" / "evolve").exists()


def test_the_documented_evolve_policy_mapping_is_accepted_and_reaches_the_next_rounds_policy(tmp_path):
    overrides = [*SMOKE, f"workdir={tmp_path / 'out'}", f"store.url=sqlite:///{tmp_path / 'evo.db'}"]
    for form in ("evolve.policy={device: cpu, batch_size: 8}", "+evolve.policy.batch_size=8"):
        assert check_overrides([*overrides, form]) is None
    from hydra import compose, initialize_config_dir

    from journeyforge.overrides import CONF_DIR

    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        cfg = compose(config_name="config", overrides=[*overrides, "evolve.policy={device: cpu, batch_size: 8}"])
    ev = evolve.evolve_settings(cfg)
    model = tmp_path / "student"
    model.mkdir()
    (model / "config.json").write_text("{}")
    rc = evolve.round_config(cfg, ev, 1, model, None)
    assert (rc.policy.backend, rc.policy.device, rc.policy.batch_size, rc.policy.model) == ("hf", "cpu", 8, str(model))
    assert "evolve.policy must be a mapping" in check_overrides([*overrides, "evolve.policy=3"])


def test_an_evolve_dir_that_cannot_be_a_folder_is_refused_before_the_store_is_opened(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    line = _one_line(_cli(tmp_path, f"evolve.dir={blocker / 'evolve'}"))
    assert line == (f"journeyforge evolve: evolve.dir={blocker / 'evolve'}: {blocker} is a file, not a folder; "
                    "choose another evolve.dir")
    assert not (tmp_path / "evo.db").exists()


def _dump(store) -> tuple:
    with store.engine.connect() as conn:
        return tuple(tuple(conn.execute(text(f"SELECT * FROM {t} ORDER BY id")).all())
                     for t in ("runs", "trees", "nodes", "trajectories", "evals"))


def test_a_damaged_model_of_round_0_ends_round_1_in_one_line_before_it_writes(tmp_path):
    from hydra import compose, initialize_config_dir

    from journeyforge.overrides import CONF_DIR

    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        evolve.run(compose(config_name="config", overrides=[*SMOKE, f"workdir={tmp_path / 'out'}",
                                                            f"store.url=sqlite:///{tmp_path / 'evo.db'}",
                                                            "evolve.rounds=1"]))
    weights = tmp_path / "out" / "evolve" / "round-0" / "models" / "shortcut" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])   # a truncated copy
    store = TraceStore(f"sqlite:///{tmp_path / 'evo.db'}")
    before = _dump(store)
    line = _one_line(_cli(tmp_path, "evolve.rounds=2"))
    assert line.startswith("journeyforge evolve: round 1 of evolve run 'evo' is grown by round 0's model, which does "
                           f"not load: policy.model={weights.parent}: model.safetensors is truncated")
    assert "nothing of round 1 was written" in line
    assert _dump(store) == before and not (tmp_path / "out" / "evolve" / "round-1").exists()
    store.close()
