"""A store or a folder that cannot be used ends the stage with ONE line naming it and what to do, and
the store is left as it was: corrupt, locked, newer schema, mistyped path, read-only or misplaced
folders, unusable run names. Real `journeyforge` processes against real SQLite files."""
from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from db import TraceStore
from journeyforge.stages.common import fail_started_runs, start_run
from tests.explore_processes import ENV, REPO, explore_overrides, journeyforge, query, run_to_end


def _fails(stage: str, *overrides: str, timeout: float = 120) -> str:
    done = subprocess.run(journeyforge(stage, *overrides), cwd=REPO, env=ENV, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rows(path: Path) -> list[str]:
    """Every row of the store as SQL (a WAL checkpoint may move bytes around, never rows)."""
    with sqlite3.connect(path) as conn:
        return list(conn.iterdump())


@pytest.fixture(scope="module")
def explored(tmp_path_factory) -> Path:
    """A store holding one finished scripted explore run `real` and its linearize run."""
    root = tmp_path_factory.mktemp("explored")
    url = f"sqlite:///{root / 'traces.db'}"
    run_to_end(journeyforge("explore", *explore_overrides("real", url, root, latency=0.0, n_train=3)))
    run_to_end(journeyforge("linearize", "name=real", f"store.url={url}", f"workdir={root}"))
    with TraceStore(url) as store:  # fold the WAL into the file, so the file alone is the store
        store.engine.dispose()
    return root / "traces.db"


def _copy(explored: Path, tmp_path: Path, name: str = "traces.db") -> Path:
    copy = tmp_path / name
    shutil.copy(explored, copy)
    return copy


def test_corrupt_store_names_it_and_how_to_recover_and_is_not_changed(explored, tmp_path):
    store = _copy(explored, tmp_path)
    with store.open("r+b") as f:  # overwrite inner pages (the schema page, 1, stays readable)
        f.seek(4096 * 2)
        f.write(b"\xff" * 4096 * 3)
    before = _digest(store)
    for stage, extra in (("linearize", []), ("view", []), ("explore", ["policy=scripted", "task.n_train=3"])):
        line = _fails(stage, "name=real", f"store.url=sqlite:///{store}", f"workdir={tmp_path}", *extra)
        assert line.startswith(f"journeyforge {stage}: trace store sqlite:///{store} is corrupt ("), line
        assert f"sqlite3 {store} .recover" in line
    assert _digest(store) == before


def test_locked_store_waits_store_busy_timeout_then_says_which_process_holds_it(explored, tmp_path):
    store = _copy(explored, tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys, time\n"
        f"c = sqlite3.connect({str(store)!r}, isolation_level=None)\n"
        "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(120)\n")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        line = _fails("linearize", "name=real", f"store.url=sqlite:///{store}", f"workdir={tmp_path}",
                      "store.busy_timeout=1")
        assert time.monotonic() - started < 60
    finally:
        holder.kill()
        holder.wait()
    assert line.startswith(f"journeyforge linearize: trace store sqlite:///{store} stayed locked by another writer "
                           f"for 1 s (held by pid {holder.pid} ("), line
    assert "store.busy_timeout" in line


def test_store_of_a_newer_schema_says_which_revision_it_has_and_leaves_it_alone(explored, tmp_path):
    store = _copy(explored, tmp_path)
    url = f"sqlite:///{store}"
    with sqlite3.connect(store) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099'")
    before = _rows(store)
    line = _fails("db", "upgrade", f"store.url={url}")
    assert line.startswith(f"journeyforge db upgrade: trace store {url} has schema revision 0099, newer than this "
                           "release knows (head 0"), line
    assert "upgrade journeyforge" in line
    assert _rows(store) == before


def test_read_only_stages_on_a_mistyped_store_path_create_nothing(tmp_path):
    missing = tmp_path / "typo" / "traces.db"
    for stage in ("view", "linearize"):
        line = _fails(stage, f"store.url=sqlite:///{missing}", f"workdir={tmp_path / 'w'}")
        assert line == (f"journeyforge {stage}: no trace store at {missing} (store.url=sqlite:///{missing}): the file "
                        "does not exist; fix store.url, or run `journeyforge explore` to make the store first")
    assert not (tmp_path / "typo").exists()


@pytest.mark.parametrize("name, says", [
    ("a" * 300, "is 300 characters; an experiment name has at most 120"),
    ("a" * 121, "is 121 characters"),
    ("..", "may not start with '.'"),
])
def test_unusable_run_names_are_refused_before_anything_is_written(tmp_path, name, says):
    url = f"sqlite:///{tmp_path / 'traces.db'}"
    line = _fails("explore", f"name={name}", f"store.url={url}", "policy=scripted", "task.n_train=2")
    assert line.startswith("journeyforge explore: name=") and says in line
    assert not (tmp_path / "traces.db").exists()
    assert not (REPO / "hydra").exists() and not (REPO / "outputs" / ("a" * 121)).exists()


def test_folders_that_cannot_be_written_are_named_by_their_option(explored, tmp_path):
    store = _copy(explored, tmp_path)
    url = f"sqlite:///{store}"
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    line = _fails("linearize", "name=real", f"store.url={url}", f"workdir={blocker}/sub")
    assert line == f"journeyforge linearize: workdir={blocker}/sub: {blocker} is a file, not a folder; choose another workdir"
    line = _fails("export", "name=real", f"store.url={url}", f"workdir={tmp_path}", f"export.dir={blocker}")
    assert line == f"journeyforge export: export.dir={blocker} is a file, not a folder; choose another export.dir"
    foreign = tmp_path / "papers"
    foreign.mkdir()
    (foreign / "draft.tex").write_text("mine")
    line = _fails("export", "name=real", f"store.url={url}", f"workdir={tmp_path}", f"export.dir={foreign}")
    assert line.startswith(f"journeyforge export: export.dir={foreign} exists, is not empty and holds no export.json")
    assert (foreign / "draft.tex").read_text() == "mine"
    assert query(url, "SELECT count(*) FROM runs WHERE stage = 'export'") == [(0,)]


def test_a_run_left_running_by_a_failed_stage_ends_failed_with_the_reason(tmp_path):
    from omegaconf import OmegaConf

    url = f"sqlite:///{tmp_path / 'traces.db'}"
    cfg = OmegaConf.create({"name": "x", "store": {"url": url}})
    with TraceStore(url) as store:
        done_id = start_run(store, cfg, "explore")
        store.finish_run(done_id, "done")
        open_id = start_run(store, cfg, "export")
    assert fail_started_runs("export.dir: disk full") == [open_id]
    with TraceStore(url) as store:
        runs = {r["stage"]: r for r in store.runs()}
    assert runs["explore"]["status"] == "done"
    assert runs["export"]["status"] == "failed" and runs["export"]["stats"]["error"] == "export.dir: disk full"


@pytest.mark.skipif(os.geteuid() != 0, reason="a read-only bind mount needs root")
def test_read_only_workdir_is_named_before_hydra_writes_into_it(explored, tmp_path):
    source, mount = tmp_path / "src", tmp_path / "ro"
    source.mkdir()
    mount.mkdir()
    if subprocess.run(["mount", "--bind", str(source), str(mount)], capture_output=True).returncode != 0:
        pytest.skip("bind mounts are not allowed here")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(mount)], check=True, capture_output=True)
        line = _fails("linearize", "name=real", f"store.url=sqlite:///{_copy(explored, tmp_path)}",
                      f"workdir={mount}/w")
        assert line == (f"journeyforge linearize: workdir={mount}/w: {mount} is not writable (read-only or not "
                        "yours); choose another workdir")
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)
