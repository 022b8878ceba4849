"""Step labels from an LLM judge and the task's oracle beside the search's own (issue 42): the judge's
grammar, votes and consensus written out by hand, a store of revision 0007 upgraded to keep them (real
SQLite and PostgreSQL), the `label` stage on a real model (unparsed answers counted, never a crash), and
a judge server that is down at the start (one line) or fails later (nothing left `running`, the same
command resumes)."""
from __future__ import annotations

import json

from pathlib import Path

import pytest
from datasets import load_from_disk
from hydra import compose, initialize_config_dir
from sqlalchemy import text

from db import TraceStore, migrate
from db.engine import make_engine
from journeyforge.cli import CONF_DIR
from journeyforge.stages import explore, export, label, linearize
from journeyforge.stages.common import StageError
from search.judge import JudgedPath, label_rows, node_votes, parse_first_error
from search.judge_settings import LabelSettings
from tests.failed_commands import dump, fails
from tests.store_backends import pg_database, pg_url, store_url  # noqa: F401
from tests.test_export import TASK, hand_tree
from tests.vllm_helpers import free_port
from traces.label_sources import judge_labels, relabel_rows, select_labels
from traces.export_settings import ExportSettings
from traces.stepwise_rows import build_stepwise
from training.prm_settings import PRMSettings

# A prompt the real SmolLM2-135M continues with " \boxed{1}" (greedy, plain text): a path of two or more
# steps is then judged "step 1 is the first error", a path of one step gets an index outside it (unparsed).
PRIMED = "$steps\n" + "First wrong step: \\boxed{1}\n" * 3 + "First wrong step:"


def test_first_error_is_the_last_box_holding_an_index_of_the_path():
    assert parse_first_error(r"Step 1 looks wrong. \boxed{1}", 3) == 1
    assert parse_first_error(r"\boxed{ -1 }", 3) == -1
    assert parse_first_error(r"\boxed{2} no wait, \boxed{0}", 3) == 0       # the last box counts
    assert parse_first_error(r"\boxed{0} then \boxed{step 2}", 3) is None  # ... even when it holds no integer
    assert parse_first_error(r"\boxed{3}", 3) is None                       # no step 3 on a 3-step path
    assert parse_first_error(r"\boxed{-2}", 3) is None
    assert parse_first_error("the first error is in step 1", 3) is None     # no box: never guessed
    assert parse_first_error("", 3) is None


def test_votes_of_the_paths_through_a_node_make_its_label_and_a_tie_is_a_mistake():
    # Node 1 is on three paths: judged good (first error later), a mistake (first error 0), and unparsed.
    paths = [JudgedPath(7, [1, 2], "q", ["a", "b"], first_error=1, answer=r"\boxed{1}"),
             JudgedPath(7, [1, 3], "q", ["a", "c"], first_error=0, answer=r"\boxed{0}"),
             JudgedPath(7, [1, 4], "q", ["a", "d"], first_error=None, answer="no idea")]
    votes = node_votes(paths)
    assert (votes[1].good, votes[1].mistake, votes[1].unparsed, votes[1].label) == (1, 1, 1, "mistake")
    assert votes[2].label == votes[3].label == "mistake" and votes[4].label == "unparsed"
    rows = {r["node_id"]: r for r in label_rows(paths, "judge-model")}
    assert rows[1]["score"] == 0.5 and rows[4]["score"] is None
    assert rows[4]["detail"]["answer"] == "no idea" and rows[1]["detail"]["model"] == "judge-model"
    # A path the judge calls clean labels every step good.
    clean = node_votes([JudgedPath(7, [1, 2], "q", ["a", "b"], first_error=-1)])
    assert [clean[n].label for n in (1, 2)] == ["good", "good"]


def test_consensus_cuts_each_path_before_its_first_step_where_mc_and_the_judge_disagree():
    # hand_tree: 1 valid, 4 solution, 5 dead_end (below 1); 2 dead_end, 6 dead_end (below 2); 3 invalid.
    judged = {1: True, 4: False, 5: False, 2: False, 6: None, 3: True}
    rows = build_stepwise({1: hand_tree(1)}, TASK, test_fraction=0.0, label_source="consensus", judged=judged)["train"]
    got = [(r["completions"], r["labels"]) for r in rows]
    assert got == [
        (["3 * 5 = 15. Left: 7, 15"], [True]),                                  # 4: MC good, judge mistake
        (["3 * 5 = 15. Left: 7, 15", "15 - 7 = 8. Left: 8"], [True, False]),    # both agree on both steps
        (["5 + 7 = 12. Left: 3, 12"], [False]),                                  # 6: the judge's answer unparsed
    ]                                                                            # 3: MC mistake, judge good: no row
    judge_only = build_stepwise({1: hand_tree(1)}, TASK, test_fraction=0.0, label_source="judge", judged=judged)
    assert [r["labels"] for r in judge_only["train"]] == [[True, False], [True, False], [False], [True]]
    # Every source's labels ride along, so `journeyforge prm` can choose again from the same export.
    mc_rows = [dict(r) for r in build_stepwise({1: hand_tree(1)}, TASK, test_fraction=0.0, judged=judged)["train"]]
    assert [r["labels"] for r in mc_rows] == [[True, True], [True, False], [False, False], [False]]
    assert [r["judge_labels"] for r in mc_rows] == [[True, False], [True, False], [False, None], [True]]
    assert [(r["completions"], r["labels"]) for r in relabel_rows(mc_rows, "consensus")] == got
    assert select_labels({"mc": [True], "judge": [None], "oracle": [None]}, "judge") == []


def test_label_source_without_per_source_columns_is_refused_by_name():
    old = [{"prompt": "q", "completions": ["a"], "labels": [True]}]
    assert relabel_rows(old, "mc") == old
    with pytest.raises(ValueError, match="carry no per-source labels"):
        relabel_rows(old, "consensus")
    with pytest.raises(ValueError, match=r"prm\.label_source='votes' is unknown; choose one of mc, oracle, judge, consensus"):
        PRMSettings(label_source="votes")
    with pytest.raises(ValueError, match=r"export\.label_source='prm' is unknown"):
        ExportSettings(label_source="prm").validate()
    with pytest.raises(ValueError, match=r"label\.sources: unknown source 'prm'"):
        LabelSettings(sources=["prm"])
    with pytest.raises(ValueError, match=r"label\.prompt: unknown field \$answer"):
        LabelSettings(prompt="$steps $answer")


def _revision_7_rows(conn) -> None:
    for statement in [
        "INSERT INTO runs (id, name, stage, config, versions, status, stats, created_at) "
        "VALUES (100, 'demo', 'explore', '{}', '{}', 'done', '{}', '2026-12-01 00:00:00')",   # ids clear of a sequence
        "INSERT INTO problems (id, dataset, split, key, payload) VALUES (1, 'countdown', 'train', 'p0', '{}')",
        "INSERT INTO trees (id, run_id, problem_id, status, stats) VALUES (1, 100, 1, 'done', '{}')",
        "INSERT INTO nodes (id, tree_id, parent_id, seq, depth, text, label, value, visits, count, expansions, "
        "first_error) VALUES (1, 1, NULL, 0, 0, '', 'root', 0, 1, 1, 1, false)",
        "INSERT INTO nodes (id, tree_id, parent_id, seq, depth, text, label, value, visits, count, expansions, "
        "first_error, mc_value, mc_hard) VALUES (2, 1, 1, 1, 1, '3 + 4 = 7', 'valid', 0.5, 1, 1, 0, false, 0.25, 1)",
        "INSERT INTO nodes (id, tree_id, parent_id, seq, depth, text, label, value, visits, count, expansions, "
        "first_error, mc_value, mc_hard) VALUES (3, 1, 1, 2, 1, '3 * 4 = 12', 'dead_end', 0, 1, 1, 0, true, 0, 0)",
    ]:
        conn.execute(text(statement))


def test_store_of_revision_0007_upgrades_and_keeps_judge_labels_beside_mc_labels(store_url):
    assert migrate.head() == "0008"
    assert migrate.upgrade(store_url, "0007") == "0007"
    engine = make_engine(store_url)
    with engine.begin() as conn:
        _revision_7_rows(conn)
    engine.dispose()
    assert migrate.upgrade(store_url) == "0008"
    with TraceStore(store_url) as store:
        label_run = store.start_run("demo", "label", {})
        store.add_labels(label_run, [
            {"node_id": 2, "tree_id": 1, "source": "judge", "label": "mistake", "score": 0.0,
             "detail": {"model": "m", "answer": r"\boxed{0}"}},
            {"node_id": 3, "tree_id": 1, "source": "judge", "label": "unparsed", "detail": {"answer": "?"}}])
        # Labelled again (a resumed run): replaced, not duplicated.
        store.add_labels(label_run, [{"node_id": 3, "tree_id": 1, "source": "judge", "label": "mistake"}])
        with store.engine.connect() as conn:
            rows = conn.execute(text("SELECT node_id, source, label, score FROM step_labels "
                                     "ORDER BY node_id, source")).all()
        assert [tuple(r) for r in rows] == [(2, "judge", "mistake", 0.0), (2, "mc", "good", 0.25),
                                            (3, "judge", "mistake", None), (3, "mc", "mistake", 0.0)]
        assert store.step_label_rows(label_run, "judge")[0]["detail"] == {"model": "m", "answer": r"\boxed{0}"}
        assert store.labelled_trees(label_run, "judge") == {1}
    assert migrate.downgrade(store_url, "0007") == "0007"   # and back: the table and view go
    engine = make_engine(store_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM nodes")).scalar() == 3
    engine.dispose()


def _cfg(tmp_path: Path, *extra: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        return compose(config_name="config", overrides=[
            "name=j", f"workdir={tmp_path / 'out'}", f"store.url=sqlite:///{tmp_path / 'traces.db'}",
            "task.n_train=2", "task.n_test=0", "explore.progress=false", *extra])


def _rollout_trees(tmp_path: Path) -> None:
    """Two Countdown trees with Monte-Carlo labels (the scripted stand-in policy, rollouts of 2)."""
    explore.run(_cfg(tmp_path, "policy=scripted", "search.max_expansions=3", "search.value=rollout",
                     "search.rollouts=2"))


def test_label_stage_stores_judge_labels_beside_mc_labels_and_counts_unparsed_answers(tmp_path, default_model_dir):
    _rollout_trees(tmp_path)
    cfg = _cfg(tmp_path, f"policy.model={default_model_dir}", "label.sources=[judge,oracle]", "label.chat=false",
               "label.max_tokens=6", "label.batch_size=8")
    cfg.label.prompt = PRIMED   # set on the config object: Hydra's override grammar would take its backslashes
    out = label.run(cfg)
    with TraceStore(f"sqlite:///{tmp_path / 'traces.db'}") as store:
        with store.engine.connect() as conn:
            paths = conn.execute(text("SELECT COUNT(*), SUM(CASE WHEN depth = 1 THEN 1 ELSE 0 END) FROM nodes n "
                                      "WHERE parent_id IS NOT NULL AND NOT EXISTS "
                                      "(SELECT 1 FROM nodes c WHERE c.parent_id = n.id)")).one()
            beside = conn.execute(text("SELECT COUNT(DISTINCT j.node_id) FROM step_labels j JOIN step_labels m "
                                       "ON m.node_id = j.node_id AND m.source = 'mc' WHERE j.source = 'judge'")).scalar()
        rows = store.step_label_rows(out["run_id"], "judge")
        run = store.get_run("j", "label")
    # Every path judged; the one-step paths got " \boxed{1}", outside them: unparsed, stored, counted.
    assert out["judge"]["paths"] == paths[0] and out["judge"]["unparsed"] == paths[1] > 0
    assert {r["label"] for r in rows} >= {"good", "mistake"} and beside > 0
    assert all(r["detail"]["answer"].strip().startswith(r"\boxed{1}") for r in rows if "answer" in r["detail"])
    assert run["status"] == "done" and run["stats"]["judge"]["unparsed"] == paths[1]
    assert set(out["graded"]["all steps"]) == {"mc", "judge", "consensus"}

    # Exported with the consensus: each path ends before its first step where MC and the judge disagree.
    exported = _cfg(tmp_path, "policy=scripted", "export.label_source=consensus", "export.test_fraction=0")
    linearize.run(exported)
    out_dir = Path(export.run(exported)["dir"])
    stepwise = load_from_disk(str(out_dir / "stepwise"))["train"]
    assert "The stepwise and PRM rows carry the `consensus` labels" in (out_dir / "README.md").read_text()
    assert json.loads((out_dir / "export.json").read_text())["provenance"]["stepwise_labels"] == "consensus"
    full = build_stepwise(_graphs(tmp_path), TASK, test_fraction=0.0, judged=judge_labels(rows))["train"]
    assert len(stepwise) > 0
    for row in stepwise:
        n = len(row["completions"])
        assert row["labels"] == row["mc_labels"] == row["judge_labels"]
        longer = [f for f in full if f["completions"][:n] == row["completions"] and len(f["completions"]) > n]
        if not any(f["completions"] == row["completions"] for f in full):   # cut where the labels disagreed
            assert any(f["judge_labels"][n] is None or f["judge_labels"][n] != f["mc_labels"][n] for f in longer)


def _graphs(tmp_path: Path) -> dict:
    with TraceStore(f"sqlite:///{tmp_path / 'traces.db'}") as store:
        return store.tree_graphs([t["id"] for t in store.trees(1)])


def test_judge_server_down_is_one_line_at_config_time_and_writes_nothing(tmp_path):
    explore.run(_cfg(tmp_path, "policy=symbolic", "search.max_expansions=2"))
    linearize.run(_cfg(tmp_path, "policy=symbolic"))
    before = dump(tmp_path / "traces.db")
    with pytest.raises(StageError, match=r"export.label_source=consensus: experiment 'j' has no label run; run "
                                         r"`journeyforge label name=j"):
        export.run(_cfg(tmp_path, "policy=symbolic", "export.label_source=consensus"))
    line = fails("label", "name=j", f"store.url=sqlite:///{tmp_path / 'traces.db'}", f"workdir={tmp_path / 'out'}",
                 "task.n_train=2", "task.n_test=0", "policy=openai",
                 f"policy.base_url=http://127.0.0.1:{free_port()}/v1", "policy.model=judge")
    assert "policy.base_url: the judge server cannot be used" in line and "does not answer" in line
    assert dump(tmp_path / "traces.db") == before


def test_judge_server_failing_later_leaves_nothing_running_and_the_same_command_resumes(tmp_path, tiny_model_dir):
    from tests.openai_model_server import ModelServer

    explore.run(_cfg(tmp_path, "policy=symbolic", "search.max_expansions=2"))
    server = ModelServer(tiny_model_dir, served_name="judge")
    command = ["label", "name=j", f"store.url=sqlite:///{tmp_path / 'traces.db'}", f"workdir={tmp_path / 'out'}",
               "task.n_train=2", "task.n_test=0", "policy=openai", f"policy.base_url={server.base_url}",
               "policy.model=judge", "policy.max_retries=0", "label.max_tokens=4", "label.batch_size=1"]
    url = f"sqlite:///{tmp_path / 'traces.db'}"
    with TraceStore(url) as store:
        first_tree = store.trees(1)[0]["id"]
        with store.engine.connect() as conn:   # the first tree's root-to-leaf paths: one request each
            first_paths = conn.execute(text(f"SELECT COUNT(*) FROM nodes n WHERE tree_id = {first_tree} AND "
                                            "parent_id IS NOT NULL AND NOT EXISTS "
                                            "(SELECT 1 FROM nodes c WHERE c.parent_id = n.id)")).scalar()
    try:
        server.fail_after("/v1/completions", first_paths)   # the first tree's paths are answered, then 503
        line = fails(*command)
        assert line.startswith("journeyforge label: ") and "Traceback" not in line
        with TraceStore(url) as store:
            run = store.get_run("j", "label")
            first = store.labelled_trees(run["id"], "judge")
        assert run["status"] == "failed" and first == {first_tree}
        server.failing.clear()
        answered = server.counts["/v1/completions"]
        with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
            out = label.run(compose(config_name="config", overrides=command[1:]))
        with TraceStore(url) as store:
            run = store.get_run("j", "label")
            assert run["status"] == "done" and store.labelled_trees(run["id"], "judge") == {t["id"] for t in store.trees(1)}
        # The resumed run asked only about the second tree's paths.
        assert server.counts["/v1/completions"] - answered == out["judge"]["paths"] > 0
        assert out["judge"]["trees"] == 1
    finally:
        server.close()
