"""A failed attempt leaves finished work as it was (journeyforge/stages/common.py): re-running a stage on
a finished run changes its row and its files only when the attempt succeeds; a failed one ends in
one line, with the store's whole content (`.dump`) and the run's files exactly as before. Real
`journeyforge` processes on a scripted Countdown run, and real SQLite and PostgreSQL stores."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from db import TraceStore
from journeyforge.stages.common import fail_started_runs, start_run
from tests.explore_processes import explore_overrides, journeyforge, run_to_end
from tests.failed_commands import dump, fails, files, remount, tmpfs
from tests.store_backends import pg_database, pg_url, store, store_url  # noqa: F401


def _row(store_, run_id: int) -> dict:
    return next(r for r in store_.runs() if r["id"] == run_id)


def test_an_attempt_at_a_done_run_changes_its_row_only_when_it_succeeds(store):
    run_id = store.start_run("r", "prm", {"prm": {"model": "first"}}, git_sha="aaa")
    store.finish_run(run_id, "done", {"dir": "/scorers/first"})
    finished = _row(store, run_id)

    assert store.start_run("r", "prm", {"prm": {"model": "second"}}, git_sha="bbb") == run_id
    assert _row(store, run_id) == finished            # while the attempt works, the run is the finished one
    assert store.fail_run(run_id, "the attempt broke") is False
    store.finish_run(run_id, "failed", {"error": "the attempt broke"})
    assert _row(store, run_id) == finished

    store.start_run("r", "prm", {"prm": {"model": "second"}}, git_sha="bbb")
    store.finish_run(run_id, "done", {"dir": "/scorers/second"})
    replaced = _row(store, run_id)
    assert (replaced["status"], replaced["config"], replaced["git_sha"], replaced["stats"]) == (
        "done", {"prm": {"model": "second"}}, "bbb", {"dir": "/scorers/second"})


def test_a_run_that_never_finished_is_marked_failed_with_the_error(store):
    run_id = store.start_run("r", "export", {"a": 1})
    assert store.fail_run(run_id, "disk full") is True
    failed = _row(store, run_id)
    assert (failed["status"], failed["stats"]["error"]) == ("failed", "disk full")
    store.start_run("r", "export", {"a": 2})            # a failed run is retried in place
    assert _row(store, run_id)["status"] == "running"


def test_a_stage_that_fails_leaves_the_finished_run_it_attempted_done(store_url):
    from omegaconf import OmegaConf

    with TraceStore(store_url) as opened:
        done_id = opened.start_run("r", "eval", {"x": 1})
        opened.finish_run(done_id, "done", {"models": ["base"]})
        finished = _row(opened, done_id)
        cfg = OmegaConf.create({"name": "r", "x": 2})
        assert start_run(opened, cfg, "eval") == done_id
        new_id = start_run(opened, cfg, "linearize")
    assert fail_started_runs("the attempt broke") == [new_id]   # what the CLI does on an error
    with TraceStore(store_url) as opened:
        assert _row(opened, done_id) == finished
        assert _row(opened, new_id)["status"] == "failed"


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A scripted Countdown run through explore and linearize, and its export into `export.dir` on a
    tmpfs with room for one export and not two (150 inodes): (overrides, store file, export dir)."""
    root = tmp_path_factory.mktemp("finished")
    db = root / "traces.db"
    overrides = [*explore_overrides("r", f"sqlite:///{db}", root / "work", latency=0.0, n_train=8)]
    run_to_end(journeyforge("explore", *overrides))
    run_to_end(journeyforge("linearize", *overrides), timeout=300)
    with tmpfs(root / "small", "size=100m,nr_inodes=150") as small:
        overrides.append(f"export.dir={small / 'datasets'}")
        run_to_end(journeyforge("export", *overrides), timeout=300)
        yield overrides, db, small / "datasets"


def test_a_failed_export_rerun_leaves_the_finished_export_as_it_was(finished):
    overrides, db, out = finished
    before, kept = dump(db), files(out)
    assert (out / "export.json").exists() and len(kept) > 20
    # The second export needs as many files again beside the first: the disk is full half way.
    line = fails("export", *overrides, logs=Path(overrides[2].split("=", 1)[1]))
    assert line.startswith(f"journeyforge export: export.dir={out}: No space left on device while writing the export; "
                           "the export already there is as it was")
    assert dump(db) == before                          # the row is still done, with its stats and finish time
    assert files(out) == kept
    assert sorted(p.name for p in out.parent.iterdir()) == ["datasets"]   # the attempt's folder is gone


def test_a_failed_prm_rerun_leaves_the_finished_scorer_as_it_was(finished, tmp_path):
    overrides, db, _ = finished
    scorer = tmp_path / "prm"
    scorer.mkdir()
    (scorer / "prm.json").write_text(json.dumps({"task": {"name": "countdown"}, "train": {"paths": 1}}))
    (scorer / "metrics.json").write_text(json.dumps({"graded": {}}))
    with TraceStore(f"sqlite:///{db}") as opened:           # the scorer a finished prm run left
        run_id = opened.start_run("r", "prm", {"prm": {"dir": str(scorer)}})
        opened.finish_run(run_id, "done", {"dir": str(scorer)})
    before, kept = dump(db), files(scorer)
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{ not json")
    line = fails("prm", *overrides, f"prm.dir={scorer}", f"prm.model={broken}", "prm.force=true")
    assert str(broken) in line
    assert dump(db) == before
    assert files(scorer) == kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken-model", "prm"]


def test_a_failed_prm_retrain_on_a_full_disk_leaves_the_finished_scorer_as_it_was(finished, tmp_path, tiny_model_dir):
    overrides, db, _ = finished
    with tmpfs(tmp_path / "disk", "size=200m,nr_inodes=2000") as disk:
        scorer = disk / "prm"
        prm = [*overrides, f"prm.dir={scorer}", f"prm.model={tiny_model_dir}", "prm.max_steps=1", "prm.batch_size=4",
               "prm.lora=false"]
        run_to_end(journeyforge("prm", *prm), timeout=600)
        stat = os.statvfs(disk)
        used = stat.f_files - stat.f_ffree
        remount(disk, f"nr_inodes={used + used // 2}")     # room for half a scorer more: the retrain fills it
        before, kept = dump(db), files(scorer)
        line = fails("prm", *prm, "prm.force=true", timeout=600, progress=True)
        assert line == (f"journeyforge prm: prm.dir={scorer}: No space left on device while writing the scorer; the "
                        "scorer already there is as it was: free space or choose another prm.dir, then run prm again")
        assert dump(db) == before                      # the prm run is still done, with the first scorer's metrics
        assert files(scorer) == kept
        assert list(disk.iterdir()) == [scorer]        # the attempt's folder is gone
