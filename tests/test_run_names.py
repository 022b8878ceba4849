"""A run name means one run: explore resumes a run only with the settings that grew its trees, the
stages after it read runs of their own task, and each task's pipeline has a default name of its own.

Real SQLite stores, the scripted policy (no model), Hydra configs as the CLI composes them.
"""
from __future__ import annotations

import json
import sqlite3
import subprocess

import pytest
from hydra import compose, initialize_config_dir
from sqlalchemy import text as sqltext
from sqlalchemy.exc import OperationalError

from db import TraceStore
from journeyforge.cli import CONF_DIR
from journeyforge import db_command
from journeyforge.db_check import CHECKS, open_read_only, run_checks
from journeyforge.stages import evaluate, explore, export, linearize
from journeyforge.stages.common import StageError
from search.tasks import make_task
from tests.explore_processes import ENV, REPO, journeyforge

TABLES = ("runs", "problems", "trees", "nodes", "rollouts", "trajectories", "evals")


def _cfg(*overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        return compose(config_name="config", overrides=["policy=scripted", "explore.progress=false", *overrides])


def _small(tmp_path, name: str = "x") -> list[str]:
    """A four-problem MCTS run `name` in a store of its own."""
    return [f"name={name}", f"workdir={tmp_path / 'out'}", f"store.url=sqlite:///{tmp_path / 'traces.db'}",
            "task.n_train=4", "task.n_test=2", "search.max_expansions=4"]


def _rows(path) -> dict[str, list[tuple]]:
    """Every row of every table, as SQLite stores it (bytes for bytes)."""
    with sqlite3.connect(path) as conn:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in TABLES}


def test_resuming_a_run_with_other_settings_stops_before_writing_and_names_them(tmp_path):
    explore.run(_cfg(*_small(tmp_path)))
    before = _rows(tmp_path / "traces.db")
    with pytest.raises(StageError) as beam:
        explore.run(_cfg(*_small(tmp_path), "task.n_train=8", "search=beam"))
    message = str(beam.value)
    assert message.startswith("explore run 'x' exists with other settings that shape its trees")
    # The settings that differ, stored value first, in the order task, policy, search, explore.
    assert "(task.n_train: 4 -> 8; search: mcts -> beam)" in message and "name=<new name>" in message
    # Through the real CLI: one line, no traceback.
    done = subprocess.run(journeyforge("explore", *_small(tmp_path), "policy=scripted", "task=math"),
                          cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("journeyforge explore: explore run 'x' exists with other settings")
    assert "(task: countdown -> math; " in line and "name=<new name>" in line
    assert _rows(tmp_path / "traces.db") == before  # no problems, no run row, no trees added


def test_resuming_with_settings_that_cannot_change_a_tree_continues_the_run(tmp_path):
    first = explore.run(_cfg(*_small(tmp_path), "explore.max_waves=2"))
    assert first["trees_done"] < first["trees"]
    # Workers, leases, batch sizes, progress bars and the policy's batching shape no tree.
    again = explore.run(_cfg(*_small(tmp_path), "explore.worker_index=1", "explore.lease_seconds=5",
                             "explore.max_active_trees=2", "explore.progress=true", "explore.poll_seconds=0.1",
                             f"workdir={tmp_path / 'elsewhere'}"))
    assert again["run_id"] == first["run_id"] and again["trees_done"] == again["trees"] == 4
    config = TraceStore(f"sqlite:///{tmp_path / 'traces.db'}").get_run("x", "explore")["config"]
    fingerprint = config["fingerprint"]
    assert fingerprint["settings"]["search"]["algorithm"] == "mcts"
    assert fingerprint["settings"]["task"]["n_train"] == 4 and "worker_index" not in fingerprint["settings"]["explore"]
    assert len(fingerprint["sha256"]) == len(fingerprint["problems"]) == 64


def test_run_and_experiment_read_a_finished_run_grown_by_another_policy_as_it_is(tmp_path, capsys):
    """`journeyforge run` / `experiment` after trees were grown elsewhere (the scripted policy here,
    vLLM on a GPU machine in life): nothing would grow, so nothing is written and the run keeps its
    own config; explore itself still refuses, and so does a finished run asked for more problems."""
    explore.run(_cfg(*_small(tmp_path)))
    before = _rows(tmp_path / "traces.db")
    hf = _cfg(*_small(tmp_path), "policy=hf")
    with pytest.raises(explore.ResumeRefused, match=r"policy: scripted -> hf"):
        explore.run(hf)
    capsys.readouterr()
    out = explore.run(hf, reuse_finished=True)
    assert out["reused"] and out["trees_done"] == 4
    assert "is finished and holds every problem of this config" in capsys.readouterr().out
    with pytest.raises(explore.ResumeRefused, match=r"task.n_train: 4 -> 5"):
        explore.run(_cfg(*_small(tmp_path), "policy=hf", "task.n_train=5"), reuse_finished=True)
    assert _rows(tmp_path / "traces.db") == before


def test_a_problem_file_that_changed_under_a_run_stops_its_resume(tmp_path):
    path = tmp_path / "problems.jsonl"
    path.write_text("".join(json.dumps({"nums": [1, 2, 3], "target": t}) + "\n" for t in (6, 7, 9, 5, 4)))
    overrides = [*_small(tmp_path), "task.source=file", f"task.path={path}", "task.n_train=3", "task.n_test=1"]
    explore.run(_cfg(*overrides))
    assert TraceStore(f"sqlite:///{tmp_path / 'traces.db'}").get_run("x", "explore")["config"]["fingerprint"][
        "files"] == {str(path): __import__("hashlib").sha256(path.read_bytes()).hexdigest()}
    path.write_text(path.read_text().replace('"target": 7', '"target": 8'))
    with pytest.raises(StageError, match=rf"file {path}: sha256 \w{{12}} -> \w{{12}}"):
        explore.run(_cfg(*overrides))


def test_runs_made_before_fingerprints_resume_when_their_stored_config_agrees(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'traces.db'}"
    explore.run(_cfg(*_small(tmp_path), "explore.max_waves=1"))
    with sqlite3.connect(tmp_path / "traces.db") as conn:  # as an older journeyforge stored it
        config = json.loads(conn.execute("SELECT config FROM runs").fetchone()[0])
        del config["fingerprint"]
        conn.execute("UPDATE runs SET config = ?", (json.dumps(config),))
    with pytest.raises(StageError, match=r"search.max_expansions: 4 -> 5"):
        explore.run(_cfg(*_small(tmp_path), "search.max_expansions=5"))
    capsys.readouterr()
    out = explore.run(_cfg(*_small(tmp_path)))
    assert out["trees_done"] == 4
    assert "made before runs kept a fingerprint: its stored settings match" in capsys.readouterr().out
    assert "fingerprint" in TraceStore(url).get_run("x", "explore")["config"]  # stored from now on


def _pipeline(*overrides: str, model) -> None:
    """explore, linearize, export with the scripted policy, then eval of a tiny random base model."""
    for stage in (explore, linearize, export):
        stage.run(_cfg(*overrides))
    evaluate.run(_cfg(*overrides, "policy=hf", f"policy.model={model}", "eval.n_problems=2", "eval.max_tokens=4"))


def test_the_math_pipeline_leaves_the_demo_rows_as_they_were(tmp_path, monkeypatch, tiny_model_dir):
    """`make demo` then `journeyforge run task=math` in one store, at small scale: the default names
    and workdirs (`demo`, `math-demo`) keep the two apart."""
    monkeypatch.chdir(tmp_path)  # the default store (outputs/journeyforge.db) and workdirs land here
    tiny = ["task.n_test=2", "search.max_expansions=3", "linearize=shortcut"]
    demo = _cfg("task.n_train=3", *tiny)
    assert (demo.name, demo.workdir) == ("demo", "outputs/demo")
    _pipeline("task.n_train=3", *tiny, model=tiny_model_dir)
    before = _rows(tmp_path / "outputs" / "journeyforge.db")
    datasets = sorted(p.relative_to(tmp_path) for p in (tmp_path / "outputs" / "demo").rglob("*") if p.is_file())

    math = _cfg("task=math", "task.n_train=2", *tiny)
    assert (math.name, math.workdir) == ("math-demo", "outputs/math-demo")
    _pipeline("task=math", "task.n_train=2", *tiny, model=tiny_model_dir)
    after = _rows(tmp_path / "outputs" / "journeyforge.db")
    for table in TABLES:  # every demo row as it was; the math rows are new ones beside them
        assert after[table][:len(before[table])] == before[table], table
    assert {(r[1], r[2]) for r in after["runs"][len(before["runs"]):]} == {
        ("math-demo", s) for s in ("explore", "linearize", "export", "eval")}
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "outputs" / "demo").rglob("*")
                  if p.is_file()) == datasets
    assert (tmp_path / "outputs" / "math-demo" / "datasets").is_dir()


def test_stages_after_explore_refuse_a_run_of_another_task_before_writing(tmp_path):
    explore.run(_cfg(*_small(tmp_path, "m"), "task=math", "task.n_train=2"))
    before = _rows(tmp_path / "traces.db")
    for stage in (linearize, export, evaluate):
        with pytest.raises(StageError, match=r"explore run 'm' was grown on task math \(dataset gsm8k\), not on this "
                                             r"command's task countdown \(dataset countdown\): add task=math"):
            stage.run(_cfg(*_small(tmp_path, "m")))
    assert _rows(tmp_path / "traces.db") == before  # no linearize run row before failing
    explore.run(_cfg(*_small(tmp_path, "c")))
    with pytest.raises(StageError, match=r"grown on task countdown .* add task=countdown"):
        linearize.run(_cfg(*_small(tmp_path, "c"), "task=math"))


def _mixed_store(tmp_path) -> str:
    """Run 'demo' as an older journeyforge left it after `make demo` and then `run task=math`:
    Countdown trees and GSM8K trees in one explore run."""
    url = f"sqlite:///{tmp_path / 'traces.db'}"
    explore.run(_cfg(*_small(tmp_path, "demo")))
    math = make_task(_cfg("task=math", "task.n_train=2", "task.n_test=1").task)
    with TraceStore(url) as store:
        ids = store.add_problems([p.row() for p in math.load_problems()])
        store.create_trees(store.get_run("demo", "explore")["id"], ids[:2])
        # Another run grown on gsm8k alone, so that the check can name the task of that dataset.
        store.start_run("math-only", "explore", {"task": {"name": "math", "dataset": "gsm8k"}})
    return url


def test_a_mixed_run_is_reported_by_db_check_and_refused_by_linearize(tmp_path):
    url = _mixed_store(tmp_path)
    before = _rows(tmp_path / "traces.db")
    with pytest.raises(StageError, match=r"explore run 'demo' mixes datasets \(countdown 4 trees, gsm8k 2 trees\).*"
                                         r"`journeyforge db check`"):
        linearize.run(_cfg(*_small(tmp_path, "demo")))
    lines, found = run_checks(url)
    assert found == 1
    text = "\n".join(lines)
    assert ("run 'demo' (explore, id 1) mixes 2 datasets: countdown 4 trees (4 done), gsm8k 2 trees (0 done); "
            "its stored config says task countdown (dataset countdown)") in text
    assert "`journeyforge explore name=<new name> task=math`" in text
    assert ("PRAGMA foreign_keys=ON; DELETE FROM trees WHERE run_id = 1 AND problem_id IN "
            "(SELECT id FROM problems WHERE dataset = 'gsm8k');") in text
    assert _rows(tmp_path / "traces.db") == before  # reported, nothing deleted

    # The printed command does what it says: the demo run is Countdown-only again, the check is clean.
    with sqlite3.connect(tmp_path / "traces.db") as conn:
        conn.executescript(text.split("(in sqlite3): ")[1].splitlines()[0])
    lines, found = run_checks(url)
    assert found == 0 and "[check] mixed_runs" in lines[1] and lines[1].endswith(": none")
    assert linearize.run(_cfg(*_small(tmp_path, "demo")))["trees"] == 4


def test_db_check_never_creates_a_store_and_says_so_in_one_line(tmp_path, capsys):
    missing = tmp_path / "nope" / "traces.db"
    with pytest.raises(SystemExit) as stop:
        db_command.main(["check", f"store.url=sqlite:///{missing}"])
    assert stop.value.code == f"journeyforge db check: no trace store at {missing} (sqlite:///{missing}); nothing to check"
    assert not missing.parent.exists()
    explore.run(_cfg(*_small(tmp_path)))  # a store without problems: the report says so, exit status 0
    capsys.readouterr()
    db_command.main(["check", f"store.url=sqlite:///{tmp_path / 'traces.db'}"])
    assert capsys.readouterr().out.splitlines() == [
        f"store sqlite:///{tmp_path / 'traces.db'}: read-only checks",
        *[f"[check] {c.__name__} ({c.__doc__.strip().splitlines()[0]}): none" for c in CHECKS]]
    with open_read_only(f"sqlite:///{tmp_path / 'traces.db'}").connect() as conn:  # checks cannot write
        with pytest.raises(OperationalError, match="readonly"):
            conn.execute(sqltext("DELETE FROM trees"))


def test_a_symbolic_run_stored_with_its_heuristic_spelled_out_resumes_under_default():
    """Runs made when conf/policy/symbolic.yaml said `heuristic: sum` resume now that it says `default`
    (the task's first, Countdown's `sum`): one choice, one fingerprint; another heuristic still differs."""
    from journeyforge.fingerprint import explore_fingerprint

    def config(heuristic):
        return {"task": {"name": "countdown", "seed": 0}, "policy": {"backend": "symbolic", "heuristic": heuristic},
                "search": {"algorithm": "dfs"}, "explore": {"seed": 0}}

    rows = [{"key": "a"}]
    assert explore_fingerprint(config("default"), rows)["sha256"] == explore_fingerprint(config("sum"), rows)["sha256"]
    assert explore_fingerprint(config("default"), rows)["sha256"] != explore_fingerprint(config("mult"), rows)["sha256"]
