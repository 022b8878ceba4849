"""A stage that cannot start stops with exit code != 0 and ONE line that names the culprit (store URL
or run name) and what to do; never a traceback. Real `journeyforge` processes."""
from __future__ import annotations

import subprocess

import pytest

from tests.explore_processes import ENV, REPO, explore_overrides, journeyforge, run_to_end


def _fails(stage: str, *overrides: str) -> str:
    """Run the stage; assert it failed with one line on stderr and no traceback; return that line."""
    done = subprocess.run(journeyforge(stage, *overrides), cwd=REPO, env=ENV, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_unreachable_postgres_store_names_the_url_and_what_to_check(tmp_path):
    url = "postgresql+psycopg://postgres@127.0.0.1:1/journeyforge"  # port 1: nothing listens there
    line = _fails("explore", f"store.url={url}", f"workdir={tmp_path}", "policy=scripted", "task.n_train=2")
    assert line.startswith(f"journeyforge explore: cannot open trace store {url}: ")
    assert "Connection refused" in line
    assert "check that PostgreSQL is running on 127.0.0.1:1" in line


def test_missing_postgres_database_says_which_database_to_create(tmp_path):
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/journeyforge_no_such_database"
    done = subprocess.run(journeyforge("linearize", f"store.url={url}", f"workdir={tmp_path}"), cwd=REPO, env=ENV,
                          capture_output=True, text=True, timeout=120)
    if "Connection refused" in done.stderr:
        pytest.skip("no PostgreSQL server at 127.0.0.1:5432")
    line = _fails("linearize", f"store.url={url}", f"workdir={tmp_path}")
    assert f"cannot open trace store {url}" in line
    assert "database 'journeyforge_no_such_database' exists" in line


def test_sqlite_store_in_a_directory_that_cannot_exist_names_the_url(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    url = f"sqlite:///{blocker}/traces.db"
    line = _fails("explore", f"store.url={url}", f"workdir={tmp_path}", "policy=scripted", "task.n_train=2")
    assert line.startswith(f"journeyforge explore: cannot open trace store {url}: ")
    assert "check that the file's directory exists and is writable" in line


def test_unknown_run_name_names_the_run_and_the_stage_to_run_first(tmp_path):
    url = f"sqlite:///{tmp_path / 'traces.db'}"
    run_to_end(journeyforge("explore", *explore_overrides("real", url, tmp_path, latency=0.0, n_train=2)))
    line = _fails("linearize", "name=ghost", f"store.url={url}", f"workdir={tmp_path}")
    assert line == ("journeyforge linearize: no explore run named 'ghost' in this store (it has: real); "
                    "run `journeyforge explore name=ghost` first")
    line = _fails("export", "name=ghost", f"store.url={url}", f"workdir={tmp_path}")
    assert line == ("journeyforge export: no linearize run named 'ghost' in this store (it has none); "
                    "run `journeyforge linearize name=ghost` first")
