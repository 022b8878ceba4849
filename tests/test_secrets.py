"""A store URL's password never leaves the process: not in a printed line, a `runs.config`, a dataset
card, an export file or Hydra's saved config. Real `journeyforge` processes against a real PostgreSQL
database (trust auth accepts any password, so the URL can carry one)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect, text

from db.engine import make_engine, mask_url
from journeyforge.credentials import mask_config, mask_text, secrets_in
from tests.explore_processes import ENV, REPO, fresh_pg_url, journeyforge  # noqa: F401 (fixture)

PASSWORD = "Sup3r-S3cret-pw"


def test_mask_text_hides_url_passwords_and_credential_query_values():
    line = (f"store postgresql+psycopg://postgres:{PASSWORD}@db:5432/x?sslmode=require&sslpassword=k3y "
            "and sqlite:///outputs/journeyforge.db")
    assert mask_text(line) == ("store postgresql+psycopg://postgres:***@db:5432/x?sslmode=require&sslpassword=*** "
                               "and sqlite:///outputs/journeyforge.db")
    assert mask_text("postgresql+psycopg://p:a@b@host/db") == "postgresql+psycopg://p:***@host/db"
    assert mask_url(f"postgresql+psycopg://u:{PASSWORD}@h/d?password=x") == "postgresql+psycopg://u:***@h/d?password=***"


def test_mask_config_hides_api_keys_but_keeps_placeholders_and_everything_else():
    cfg = {"store": {"url": f"postgresql+psycopg://u:{PASSWORD}@h/d"},
           "policy": {"api_key": "sk-live-1", "model": "m"}, "rewrite": {"api_key": "EMPTY"}, "seed": 3}
    assert mask_config(cfg) == {"store": {"url": "postgresql+psycopg://u:***@h/d"},
                                "policy": {"api_key": "***", "model": "m"}, "rewrite": {"api_key": "EMPTY"},
                                "seed": 3}
    assert secrets_in(cfg) == {PASSWORD, "sk-live-1"}


def _run(stage: str, *overrides: str) -> str:
    done = subprocess.run(journeyforge(stage, *overrides), cwd=REPO, env=ENV, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_tokenizer_options_are_settings_not_secrets_but_tokens_are():
    config = {"policy": {"tokenizer": "/models/smollm2", "hf_token": "hf_abc123"},
              "train": {"student": {"tokenizer": "phrases"}}, "explore": {"max_tokens": 16}}
    masked = mask_config(config)
    assert masked["policy"]["tokenizer"] == "/models/smollm2"
    assert masked["train"]["student"]["tokenizer"] == "phrases"
    assert masked["policy"]["hf_token"] == "***"
    assert secrets_in(config) == {"hf_abc123"}


def test_no_table_file_or_printed_line_of_a_run_holds_the_store_password(fresh_pg_url, tmp_path):
    url = fresh_pg_url.replace("postgresql+psycopg://postgres@", f"postgresql+psycopg://postgres:{PASSWORD}@", 1)
    assert PASSWORD in url
    common = [f"store.url={url}", f"workdir={tmp_path / 'work'}", "policy=scripted", "task.n_train=6",
              "task.n_test=2", "explore.progress=false"]
    printed = _run("explore", *common)
    printed += _run("linearize", *common)
    printed += _run("export", *common)
    assert "postgresql+psycopg://postgres:***@" in printed  # the store is still named
    assert PASSWORD not in printed

    engine = make_engine(fresh_pg_url)
    try:
        with engine.connect() as conn:
            tables = inspect(conn).get_table_names()
            assert {"runs", "nodes", "trajectories"} <= set(tables)
            for table in tables:
                dump = " ".join(str(row) for row in conn.execute(text(f'SELECT * FROM "{table}"')))
                assert PASSWORD not in dump, table
            stored = conn.execute(text("SELECT config FROM runs WHERE stage = 'explore'")).scalar_one()
    finally:
        engine.dispose()
    assert stored["store"]["url"].startswith("postgresql+psycopg://postgres:***@")

    files = [p for p in Path(tmp_path / "work").rglob("*") if p.is_file()]
    assert any(p.name == "README.md" for p in files) and any(p.name == "overrides.yaml" for p in files)
    for path in files:
        assert PASSWORD.encode() not in path.read_bytes(), path


def test_an_error_line_about_a_store_with_a_password_masks_it(tmp_path):
    url = f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:1/journeyforge"  # nothing listens on port 1
    done = subprocess.run(journeyforge("linearize", f"store.url={url}", f"workdir={tmp_path}"), cwd=REPO, env=ENV,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "postgresql+psycopg://postgres:***@127.0.0.1:1/journeyforge" in done.stderr
    assert PASSWORD not in done.stdout + done.stderr


def test_a_bug_in_a_stage_is_reported_with_its_traceback_and_never_the_password(tmp_path):
    """Hydra reports an exception it catches as "Error executing job with overrides: [...]", the
    command line verbatim; the CLI reports unexpected errors itself, scrubbed of every secret."""
    url = f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:1/journeyforge"
    script = ("import sys, journeyforge.cli as cli\n"
              "def broken(cfg):\n"
              f"    raise RuntimeError('a bug while reading {url}')\n"
              "cli._stages = lambda: {'linearize': broken}\n"
              "cli.main(sys.argv[1:])\n")
    done = subprocess.run([sys.executable, "-c", script, "linearize", f"store.url={url}", f"workdir={tmp_path}"],
                          cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "Traceback" in done.stderr and "RuntimeError: a bug while reading" in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("journeyforge linearize: unexpected error (RuntimeError")
    assert "Error executing job" not in done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    for path in (p for p in Path(tmp_path).rglob("*") if p.is_file()):
        assert PASSWORD.encode() not in path.read_bytes(), path
