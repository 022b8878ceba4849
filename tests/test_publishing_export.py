"""Data you can publish, end to end (issue 42): a problems file whose training rows hold three held-out
problems and one problem three times goes through explore, linearize and export; the exported training
splits hold no held-out problem, and the summary, export.json, the card and the SQL views say what was
found and what an accepted trajectory cost. Scripted and symbolic policies, real stores."""
from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

import pytest
from datasets import load_from_disk
from hydra import compose, initialize_config_dir

from db import TraceStore
from db.views import TRAJECTORY_COSTS_QUERY
from journeyforge.cli import CONF_DIR
from journeyforge.db_check import run_checks
from journeyforge.stages import explore, export, linearize
from journeyforge.stages.common import StageError
from search.tasks.countdown.solver import solvable
from tests.store_backends import pg_database, pg_url, store_url  # noqa: F401

CONFIGS = ("sft/shortcut", "sft/journey", "stepwise", "preference", "prm_shepherd", "prm_openrlhf", "rl")


def _cfg(overrides: list[str]):
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        return compose(config_name="config", overrides=overrides)


def write_problems(path: Path) -> tuple[list[dict], list[dict]]:
    """20 training rows, the 3 held-out problems copied into the training rows (numbers reversed, as
    another file would have them), the first training problem twice more, then the 3 held-out rows."""
    rng = random.Random(1)
    rows, seen = [], set()
    while len(rows) < 23:
        nums, target = [rng.randint(1, 12) for _ in range(4)], rng.randint(10, 60)
        if (tuple(sorted(nums)), target) in seen or not solvable(nums, target):
            continue
        seen.add((tuple(sorted(nums)), target))
        rows.append({"nums": nums, "target": target})
    train, held_out = rows[:20], rows[20:]
    lines = [dict(r, split="train") for r in train]
    lines += [{"nums": r["nums"][::-1], "target": r["target"], "split": "train"} for r in held_out]
    lines += [dict(train[0], split="train")] * 2
    lines += [dict(r, split="test") for r in held_out]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    return train, held_out


def key(row: dict) -> str:
    return ",".join(map(str, sorted(row["nums"]))) + f"->{row['target']}"


def options(tmp_path: Path, url: str, *extra: str) -> list[str]:
    return [f"name=demo", f"workdir={tmp_path / 'out'}", f"store.url={url}", "task.source=file",
            f"task.path={tmp_path / 'problems.jsonl'}", "policy=scripted", "explore.progress=false",
            "linearize.kinds=[shortcut,journey]", f"export.dir={tmp_path / 'export'}", *extra]


def run_all(tmp_path: Path, url: str, *extra: str) -> dict:
    cfg = _cfg(options(tmp_path, url, *extra))
    explore.run(cfg)
    linearize.run(cfg)
    return export.run(cfg)


def test_held_out_copies_and_a_tripled_problem_are_counted_and_never_trained_on(tmp_path, capsys):
    train, held_out = write_problems(tmp_path / "problems.jsonl")
    url = f"sqlite:///{tmp_path / 'traces.db'}"
    run_all(tmp_path, url)
    out = capsys.readouterr().out
    assert "[export] contamination: 3 contaminated training problems (held-out: 3); 3 left out" in out
    assert "[export] duplicates: 5 problem rows merged into 4 problems at load" in out

    held_keys = {key(r) for r in held_out}
    with TraceStore(url) as store:
        stored_held = store.problems(dataset="countdown", split="test")
    assert {p["key"] for p in stored_held} == held_keys   # the copies stayed held out
    held_questions = {f"Numbers: {', '.join(map(str, p['payload']['nums']))}\nTarget: {p['payload']['target']}\n"
                      for p in stored_held}
    for config in CONFIGS:
        part = load_from_disk(str(tmp_path / "export" / config))["train"]
        assert len(part) > 0, config
        assert not held_keys & set(part["problem"]), config
        if "prompt" in part.column_names:
            assert not held_questions & set(part["prompt"]), config

    facts = json.loads((tmp_path / "export" / "export.json").read_text())["provenance"]
    assert facts["contamination"]["problems"] == 3
    assert facts["contamination"]["by_source"] == {"held-out": 3}
    duplicates = facts["duplicates"]
    assert (duplicates["rows_merged"], duplicates["problems"], duplicates["held_out_copies"]) == (5, 4, 3)
    [tripled] = [g for g in duplicates["rows"] if g["problem"] == key(train[0])]
    assert tripled["kept"].endswith("problems.jsonl line 1")
    assert [w.rsplit(" ", 1)[1] for w in tripled["merged"]] == ["24", "25"] and not tripled["held_out"]

    card = (tmp_path / "export" / "README.md").read_text()
    assert "**3 contaminated training problems** (held-out: 3)" in card
    assert "5 rows of the problem file repeated 4 problems" in card
    assert f"`{key(train[0])}`: kept problems.jsonl line 1; merged problems.jsonl line 24, problems.jsonl line 25" in card
    assert str(tmp_path) not in card.split("## Run configuration")[0]   # no local folder named above the config
    assert "the task's own exact checker: `journeyforge`" in card


def test_cost_per_accepted_trajectory_per_kind_in_export_json_card_and_view(tmp_path):
    write_problems(tmp_path / "problems.jsonl")
    url = f"sqlite:///{tmp_path / 'traces.db'}"
    run_all(tmp_path, url)
    facts = json.loads((tmp_path / "export" / "export.json").read_text())["provenance"]
    cost = facts["cost"]
    assert cost["generated_tokens"] > 0 and cost["prompt_tokens"] >= 0
    for kind in ("shortcut", "journey"):
        exported = sum(len(p) for p in load_from_disk(str(tmp_path / "export" / "sft" / kind)).values())
        per = cost["per_kind"][kind]
        assert per["accepted"] == exported > 0
        assert per["generated_tokens_per_accepted"] == round(cost["generated_tokens"] / exported, 2)
    card = (tmp_path / "export" / "README.md").read_text()
    assert "| kind | accepted | prompt tokens / accepted | generated tokens / accepted |" in card
    shortcut = cost["per_kind"]["shortcut"]
    assert f"| shortcut | {shortcut['accepted']} | {shortcut['prompt_tokens_per_accepted']} | " \
           f"{shortcut['generated_tokens_per_accepted']} |" in card
    with TraceStore(url) as store:
        run = store.get_run("demo", "explore")
        assert run["stats"]["cost"]["generated_tokens"] == cost["generated_tokens"]
        lin = store.get_run("demo", "linearize")
        correct = {k: sum(1 for t in store.trajectories(run_id=lin["id"], kind=k) if t["is_correct"])
                   for k in ("journey", "shortcut")}
    with sqlite3.connect(tmp_path / "traces.db") as conn:   # what the sqlite3 shell sees
        rows = conn.execute(TRAJECTORY_COSTS_QUERY).fetchall()
    assert [r[0] for r in rows] == ["journey", "shortcut"]
    for kind, accepted, per_accepted, _, _ in rows:
        assert accepted == correct[kind]
        assert per_accepted == pytest.approx(cost["generated_tokens"] / correct[kind])


def test_the_simulated_engine_s_gpu_seconds_and_the_mc_labels_quality_reach_the_card(tmp_path):
    url = f"sqlite:///{tmp_path / 'traces.db'}"
    cfg = _cfg([f"name=sim", f"workdir={tmp_path / 'out'}", f"store.url={url}", "task.n_train=6", "task.n_test=2",
                "policy=simulated", "policy.pace=false", "search.value=rollout", "search.rollouts=4",
                "explore.progress=false", f"export.dir={tmp_path / 'export'}"])
    explore.run(cfg)
    linearize.run(cfg)
    export.run(cfg)
    facts = json.loads((tmp_path / "export" / "export.json").read_text())["provenance"]
    cost = facts["cost"]
    assert cost["gpu_seconds"] > 0 and cost["cached_prompt_tokens"] > 0 and cost["rollout_tokens"] > 0
    for per in cost["per_kind"].values():
        assert per["gpu_seconds_per_accepted"] == round(cost["gpu_seconds"] / per["accepted"], 2)
    quality = facts["label_quality"]
    assert quality["source"] == "mc" and quality["steps"] > 0
    card = (tmp_path / "export" / "README.md").read_text()
    assert f"Monte-Carlo labels against the exact oracle, {quality['steps']:,} steps" in card
    assert "GPU-seconds of the modelled engine (`policy=simulated`)" in card and "GPU-seconds / accepted" in card


@pytest.mark.postgres
def test_views_answer_on_postgresql(tmp_path, pg_url):
    """The same pipeline on PostgreSQL: trajectory_costs per kind, contaminated_problems with a match."""
    train, _ = write_problems(tmp_path / "problems.jsonl")
    bench = tmp_path / "bench.jsonl"   # a training problem with its numbers in another order
    bench.write_text(json.dumps({"nums": train[3]["nums"][::-1], "target": train[3]["target"]}) + "\n")
    run_all(tmp_path, pg_url, f"export.decontaminate_against=[{bench}]")
    with TraceStore(pg_url) as store, store._read() as conn:
        costs = conn.exec_driver_sql(TRAJECTORY_COSTS_QUERY).fetchall()
        found = conn.exec_driver_sql("SELECT problem, source, matched, how, removed FROM contaminated_problems").fetchall()
    assert [r[0] for r in costs] == ["journey", "shortcut"] and all(r[2] > 0 for r in costs)
    assert [tuple(r) for r in found] == [(key(train[3]), "bench.jsonl", "line 1", "canonical", True)]


def test_a_canonical_match_in_a_named_file_is_removed_or_kept_as_asked(tmp_path):
    train, _ = write_problems(tmp_path / "problems.jsonl")
    bench = tmp_path / "countdown_bench.csv"   # a CSV benchmark: Countdown's own fields
    bench.write_text("nums,target\n\"[1, 2, 3]\",6\n")
    plain = tmp_path / "bench.jsonl"
    plain.write_text(json.dumps({"nums": sorted(train[5]["nums"]), "target": train[5]["target"]}) + "\n")
    url = f"sqlite:///{tmp_path / 'traces.db'}"
    run_all(tmp_path, url, f"export.decontaminate_against=[{plain}]")
    part = load_from_disk(str(tmp_path / "export" / "rl"))
    assert key(train[5]) not in set(part["train"]["problem"]) | set(part["test"]["problem"])
    facts = json.loads((tmp_path / "export" / "export.json").read_text())["provenance"]["contamination"]
    assert facts["by_source"] == {"bench.jsonl": 1, "held-out": 3} and facts["removed"] == 4
    export.run(_cfg(options(tmp_path, url, f"export.decontaminate_against=[{plain}]", "export.keep_contaminated=true")))
    kept = load_from_disk(str(tmp_path / "export" / "rl"))
    assert key(train[5]) in set(kept["train"]["problem"]) | set(kept["test"]["problem"])
    card = (tmp_path / "export" / "README.md").read_text()
    assert "4 contaminated training problems" in card and "1 kept (`export.keep_contaminated=true`)" in card
    with sqlite3.connect(tmp_path / "traces.db") as conn:
        found = conn.execute("SELECT problem, source, matched, how, removed FROM contaminated_problems "
                             "ORDER BY export_run_id").fetchall()
    assert found == [(key(train[5]), "bench.jsonl", "line 1", "canonical", 0)]   # the last export's row
    lines, _ = run_checks(url)
    assert "[check] contaminated_problems (training problems an export found in held-out or benchmark sets " \
           "(decontamination)): found" in lines
    assert any("1 training problems matched bench.jsonl problems; 1 kept in the training splits" in line
               for line in lines)


@pytest.mark.parametrize("option, message", [
    ("export.decontaminate_against=[{missing}]", "export.decontaminate_against: {missing}: no such file"),
    ("export.decontaminate_against=[{binary}]", "export.decontaminate_against: {binary} line 1: binary data"),
    ("export.decontaminate_ngram=0", "export.decontaminate_ngram must be an integer of at least 1, got 0"),
])
def test_a_bad_benchmark_file_or_ngram_size_is_one_line_and_writes_nothing(tmp_path, option, message):
    write_problems(tmp_path / "problems.jsonl")
    url = f"sqlite:///{tmp_path / 'traces.db'}"
    cfg = _cfg(options(tmp_path, url))
    explore.run(cfg)
    linearize.run(cfg)
    (tmp_path / "binary.jsonl").write_bytes(b"\x00\x01\x02")
    names = {"missing": tmp_path / "nope.jsonl", "binary": tmp_path / "binary.jsonl"}
    with TraceStore(url) as store:
        before = len(store.runs())
    with pytest.raises((StageError, ValueError)) as err:
        export.run(_cfg(options(tmp_path, url, option.format(**names))))
    assert message.format(**names) in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "export").exists()
    with TraceStore(url) as store:
        assert len(store.runs()) == before
