"""Every model, scorer and folder a stage will use is opened and checked before it writes (issue 38):
a model folder with a garbage config.json, a truncated model.safetensors or no tokenizer, a missing
folder, a scorer trained on another task, an output folder that cannot be written or has no room. Real
`journeyforge` processes against a real SQLite store that already holds a finished run: ONE line naming
the option and the folder, no traceback, the store byte-identical. The broken folders are copies of a
real tiny model (tests/conftest.py tiny_model_dir) with one file damaged."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from journeyforge.folders import folder_problem
from search.model_dirs import model_dir_problem
from tests.explore_processes import ENV, REPO, journeyforge

SCRIPTED = ["policy=scripted", "task.n_train=3", "task.n_test=2", "explore.progress=false", "search.k=2",
            "search.max_expansions=2"]


def _run(stage: str, *overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run(journeyforge(stage, *overrides), cwd=REPO, env=ENV, capture_output=True, text=True,
                          timeout=300)


def _store_bytes(folder: Path) -> dict[str, str]:
    """sha256 of the store and of every file beside it (a WAL or journal a write would leave)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("traces.db*"))}


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> Path:
    """A folder whose traces.db holds a finished explore run named `x`, its WAL folded in."""
    tmp_path = tmp_path_factory.mktemp("store")
    done = _run("explore", "name=x", f"store.url=sqlite:///{tmp_path / 'traces.db'}", f"workdir={tmp_path / 'out'}",
                *SCRIPTED)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(tmp_path / "traces.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    for extra in tmp_path.glob("traces.db-*"):
        extra.unlink()
    return tmp_path


def _fails_with_one_line(stored: Path, stage: str, *overrides: str, scripted: bool = True) -> str:
    """Run `stage` on the stored run; assert the one line, no traceback and an unchanged store."""
    before = _store_bytes(stored)
    done = _run(stage, "name=x", f"store.url=sqlite:///{stored / 'traces.db'}", f"workdir={stored / 'out'}",
                *(SCRIPTED if scripted else [o for o in SCRIPTED if not o.startswith("policy=")]), *overrides)
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert _store_bytes(stored) == before, "a failed start changed the store"
    assert lines[0].startswith(f"journeyforge {stage}: ")
    return lines[0][len(f"journeyforge {stage}: "):]


def _copy(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest)
    return dest


@pytest.fixture(scope="module")
def broken(tiny_model_dir, tmp_path_factory) -> dict[str, Path]:
    """Copies of a real tiny model, each damaged in one way, and two scorers (prm.json beside the model)."""
    root = tmp_path_factory.mktemp("broken")
    out = {"good": _copy(tiny_model_dir, root / "good")}
    (_copy(tiny_model_dir, root / "garbage_config") / "config.json").write_text("{'model_type': llama,")
    out["garbage_config"] = root / "garbage_config"
    weights = _copy(tiny_model_dir, root / "truncated") / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    out["truncated"] = root / "truncated"
    out["no_tokenizer"] = _copy(tiny_model_dir, root / "no_tokenizer")
    for file in out["no_tokenizer"].glob("tokenizer*"):
        file.unlink()
    for name, task in (("math_scorer", {"name": "math", "dataset": "gsm8k"}),
                       ("countdown_scorer_without_tokenizer", {"name": "countdown"})):
        scorer = _copy(out["no_tokenizer" if "without" in name else "good"], root / name)
        (scorer / "prm.json").write_text(json.dumps({"base_model": str(tiny_model_dir), "task": task}))
        out[name] = scorer
    return out


# -- the checks themselves, in-process ----------------------------------------------------------------

def test_a_good_model_folder_passes_and_each_damage_is_named_in_one_line(broken):
    assert model_dir_problem(str(broken["good"]), "prm.model") is None
    folder = broken["garbage_config"]
    assert model_dir_problem(str(folder), "prm.model") == (
        f"prm.model={folder}: config.json is not valid JSON (line 1, column 2: Expecting property name enclosed "
        "in double quotes)")
    folder = broken["truncated"]
    assert model_dir_problem(str(folder), "policy.model").startswith(
        f"policy.model={folder}: model.safetensors is truncated or damaged: its header places tensors in ")
    folder = broken["no_tokenizer"]
    assert model_dir_problem(str(folder), "eval.prm").startswith(f"eval.prm={folder}: no tokenizer (tokenizer.json")
    # an adapter-like use that does not read the folder's tokenizer accepts it
    assert model_dir_problem(str(folder), "policy.adapter", tokenizer=False) is None


def test_unknown_architecture_garbage_weights_and_a_broken_tokenizer_are_named(broken, tmp_path):
    folder = _copy(broken["good"], tmp_path / "unknown")
    (folder / "config.json").write_text(json.dumps({"model_type": "not_a_transformers_model"}))
    assert "names model_type 'not_a_transformers_model', which transformers" in model_dir_problem(str(folder), "m")
    folder = _copy(broken["good"], tmp_path / "noise")
    (folder / "model.safetensors").write_bytes(b"this is not a safetensors file at all")
    assert model_dir_problem(str(folder), "m") == (
        f"m={folder}: model.safetensors is truncated or not a safetensors file: its header length "
        f"{int.from_bytes(b'this is ', 'little')} does not fit in its 37 bytes")
    folder = _copy(broken["good"], tmp_path / "bad_tokenizer")
    (folder / "tokenizer.json").write_text("{}")
    assert model_dir_problem(str(folder), "m").startswith(f"m={folder}: the tokenizer does not load (")
    folder = _copy(broken["good"], tmp_path / "no_weights")
    (folder / "model.safetensors").unlink()
    assert model_dir_problem(str(folder), "m") == (f"m={folder}: no weight files (*.safetensors, *.bin): an "
                                                  "incomplete copy, or a folder of something else")


def test_missing_folders_and_hub_ids_without_the_hub(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere"
    assert model_dir_problem(str(missing), "prm.model") == (
        f"prm.model={missing}: no such model folder; give a folder with config.json, weights and tokenizer, "
        "smollm2-135m (the bundled model) or a hub id org/name")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert model_dir_problem("no-such-org/no-such-model", "policy.model") == (
        "policy.model=no-such-org/no-such-model: not a local folder, and not in the Hugging Face cache while "
        "the hub is off (HF_HUB_OFFLINE=1): download it once with the hub on, or give a local folder")
    # With the hub on, a hub id is the loader's to download: no network call at config time.
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    assert model_dir_problem("no-such-org/no-such-model", "policy.model") is None


def test_a_folder_without_room_is_refused_with_its_free_space(tmp_path):
    free_mib = shutil.disk_usage(tmp_path).free / 2**20
    line = folder_problem(str(tmp_path / "out"), "prm.dir", min_free=shutil.disk_usage(tmp_path).free * 2)
    assert line.startswith(f"prm.dir={tmp_path / 'out'}: only ") and f"MiB free on the disk of {tmp_path}" in line
    assert abs(float(line.split("only ")[1].split(" MiB")[0]) - free_mib) < 64
    assert folder_problem(str(tmp_path / "out"), "prm.dir") is None


def test_an_output_folder_that_is_a_file_is_named_once(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert folder_problem(str(blocker), "export.dir") == (
        f"export.dir={blocker} is a file, not a folder; choose another export.dir")


def _cfg(tmp_path: Path, *extra: str):
    from hydra import compose, initialize_config_dir

    from journeyforge.cli import CONF_DIR

    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        return compose(config_name="config", overrides=[
            f"workdir={tmp_path / 'out'}", f"store.url=sqlite:///{tmp_path / 'traces.db'}", *SCRIPTED, *extra])


def test_each_stage_checks_the_models_it_loads_and_no_other(tmp_path):
    from journeyforge.settings import ConfigError, validate_config

    missing = tmp_path / "missing"
    cfg = _cfg(tmp_path, "linearize.journey.reflection=llm", f"linearize.rewrite.model={missing}",
               f"prm.model={missing}", f"+experiment.arms.big={{kind: journey, train: {{model: {missing}}}}}")
    with pytest.raises(ConfigError, match=rf"^linearize.rewrite.model={missing}: no such model folder"):
        validate_config(cfg, "linearize")
    with pytest.raises(ConfigError, match=rf"^prm.model={missing}: no such model folder"):
        validate_config(cfg, "prm")
    with pytest.raises(ConfigError, match=rf"^linearize.rewrite.model={missing}: no such model folder"):
        validate_config(cfg, "experiment")
    with pytest.raises(ConfigError, match=rf"^experiment.arms.big.train.model={missing}: no such model folder"):
        validate_config(_cfg(tmp_path, f"+experiment.arms.big={{kind: journey, train: {{model: {missing}}}}}"),
                        "experiment")
    # export and view load no model; without a stage (a stage called from Python checks its settings
    # again) only what a user sets explicitly is opened, and prm.model has a default.
    for stage in ("export", "view", None):
        validate_config(cfg, stage)


# -- real commands on a store that holds a finished run -----------------------------------------------

def test_garbage_config_of_prm_model_is_named_before_the_prm_stage_writes(stored, broken):
    folder = broken["garbage_config"]
    assert _fails_with_one_line(stored, "prm", f"prm.model={folder}") == (
        f"prm.model={folder}: config.json is not valid JSON (line 1, column 2: Expecting property name enclosed "
        "in double quotes)")


def test_truncated_weights_of_the_policy_are_named_before_eval_writes(stored, broken):
    folder = broken["truncated"]
    line = _fails_with_one_line(stored, "eval", "policy=hf", f"policy.model={folder}", scripted=False)
    assert line.startswith(f"policy.model={folder}: model.safetensors is truncated or damaged")


def test_a_scorer_without_tokenizer_is_named_before_explore_grows_a_tree(stored, broken):
    folder = broken["countdown_scorer_without_tokenizer"]
    line = _fails_with_one_line(stored, "explore", "search.value=prm", f"search.prm={folder}")
    assert line.startswith(f"search.prm={folder}: no tokenizer (tokenizer.json")


def test_a_missing_model_folder_is_named_before_the_prm_stage_writes(stored, tmp_path):
    line = _fails_with_one_line(stored, "prm", f"prm.model={tmp_path / 'typo'}")
    assert line.startswith(f"prm.model={tmp_path / 'typo'}: no such model folder")


def test_eval_prm_trained_on_another_task_is_refused_like_search_prm(stored, broken):
    folder = broken["math_scorer"]
    line = _fails_with_one_line(stored, "eval", "eval.scaling=[1,2]", f"eval.prm={folder}")
    assert line.startswith(f"eval.prm={folder} was trained on task math (dataset gsm8k), not on this run's "
                           "countdown")


@pytest.mark.parametrize("stage,option", [("export", "export.dir"), ("view", "view.dir"), ("prm", "prm.dir"),
                                          ("experiment", "experiment.dir"), ("train", "train.dir")])
def test_an_output_folder_under_a_file_is_named_before_the_stage_writes(stored, tmp_path, stage, option):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    target = blocker / "out"
    assert _fails_with_one_line(stored, stage, f"{option}={target}") == (
        f"{option}={target}: {blocker} is a file, not a folder; choose another {option}")


def _mounted(kind: list[str], mount: Path) -> bool:
    mount.mkdir()
    return subprocess.run(["mount", *kind, str(mount)], capture_output=True).returncode == 0


def test_a_read_only_output_folder_is_named_before_the_stage_writes(stored, tmp_path):
    folder = tmp_path / "ro"
    if os.geteuid() != 0:  # root ignores permission bits: it needs a read-only mount instead
        folder.mkdir()
        folder.chmod(0o555)
    else:
        source = tmp_path / "src"
        source.mkdir()
        if not _mounted(["--bind", str(source)], folder):
            pytest.skip("bind mounts are not allowed here")
        subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=True, capture_output=True)
    try:
        assert _fails_with_one_line(stored, "prm", f"prm.dir={folder}/scorer") == (
            f"prm.dir={folder}/scorer: {folder} is not writable (read-only or not yours); choose another prm.dir")
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(folder)], capture_output=True)
        else:
            folder.chmod(0o755)


@pytest.mark.skipif(os.geteuid() != 0, reason="a small tmpfs (a disk without room) needs root")
def test_an_output_folder_without_room_is_named_before_the_stage_writes(stored, tmp_path):
    full = tmp_path / "full"
    if not _mounted(["-t", "tmpfs", "-o", "size=1m", "tmpfs"], full):
        pytest.skip("tmpfs mounts are not allowed here")
    try:
        line = _fails_with_one_line(stored, "export", f"export.dir={full}/datasets")
        assert line.startswith(f"export.dir={full}/datasets: only ") and line.endswith(
            f"MiB free on the disk of {full} (a stage starts with at least 64 MiB); free some space or choose "
            "another export.dir")
    finally:
        subprocess.run(["umount", str(full)], capture_output=True)
