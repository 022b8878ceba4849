"""RL prompt sets in the export: the `rl` configuration, verl's Parquet layout and its reward module."""
from __future__ import annotations

import importlib.util
import json
import sys

import networkx as nx
import pyarrow.parquet as pq
import pytest
from datasets import load_from_disk

from search.tasks import make_task
from search.tasks.base import Problem
from traces.export import write_export
from traces.rl_prompts import build_rl_prompts

COUNTDOWN = make_task({"name": "countdown"})
SOLVED = Problem(key="3,5,7->22", payload={"nums": [3, 5, 7], "target": 22}, answer="(3 * 5) + 7", dataset="countdown")
UNSOLVED = [Problem(key=f"1,2,{n}->{n + 3}", payload={"nums": [1, 2, n], "target": n + 3}, answer=f"(1 + 2) + {n}",
                    dataset="countdown") for n in range(4, 10)]
HELD_OUT = Problem(key="2,4,9->17", payload={"nums": [2, 4, 9], "target": 17}, answer="(2 * 4) + 9", split="test",
                   dataset="countdown")
RIGHT = "<think>\n3 * 5 = 15. Left: 7, 15\n15 + 7 = 22. Left: 22\n</think>\n<answer>7 + 3 * 5</answer>"
WRONG = "<think>\n3 + 5 = 8. Left: 7, 8\n8 + 7 = 15. Left: 15\n</think>\n<answer>3 + 5 + 7</answer>"


def solved_tree() -> dict[int, nx.DiGraph]:
    """One solved tree of SOLVED (root, two steps) and its shortcut trajectory row."""
    g = nx.DiGraph(root=1, problem=SOLVED.row() | {"split": "train"})
    g.add_node(1, label="root", seq=0, text="")
    g.add_node(2, label="valid", seq=1, text="3 * 5 = 15. Left: 7, 15")
    g.add_node(3, label="solution", seq=2, text="15 + 7 = 22. Left: 22")
    g.add_edges_from([(1, 2), (2, 3)])
    return {10: g}


def export(tmp_path, cfg: dict | None = None):
    rows = [{"id": 1, "tree_id": 10, "kind": "shortcut", "idx": 0, "is_correct": True, "answer": SOLVED.answer,
             "text": COUNTDOWN.render_completion(["3 * 5 = 15. Left: 7, 15", "15 + 7 = 22. Left: 22"], SOLVED.answer),
             "n_steps": 2, "n_backtracks": 0}]
    cfg = cfg or {"task": {"name": "countdown"}, "export": {"test_fraction": 0.2, "seed": 0},
                  "rl": {"reward": "tinyzero", "format_weight": 0.1}}
    return write_export(rows, solved_tree(), tmp_path / "export", COUNTDOWN, cfg,
                        rl_problems=[SOLVED, *UNSOLVED, HELD_OUT])


def load_reward_module(path):
    spec = importlib.util.spec_from_file_location(f"verl_reward_{abs(hash(str(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_rl_config_holds_every_training_problem_in_the_sft_split(tmp_path):
    summary = export(tmp_path)
    out = summary["out_dir"]
    rl = load_from_disk(str(out / "rl"))
    keys = {s: set(rl[s]["problem"]) for s in rl}
    assert keys["train"] | keys["test"] == {SOLVED.key, *(p.key for p in UNSOLVED)}  # solved or not; never held out
    assert not keys["train"] & keys["test"]
    sft = load_from_disk(str(out / "sft" / "shortcut"))
    for split in ("train", "test"):
        assert set(sft[split]["problem"]) <= keys[split]  # a problem's split is the same in every configuration
    row = next(r for s in rl for r in rl[s] if r["problem"] == SOLVED.key)
    assert row["prompt"] == COUNTDOWN.question(SOLVED) and row["answer"] == SOLVED.answer
    assert json.loads(row["payload"]) == SOLVED.payload and row["data_source"] == "journeyforge/countdown"
    assert summary["configs"]["rl"] == {s: len(rl[s]) for s in rl}


def test_verl_parquet_reads_back_in_verls_layout(tmp_path):
    out = export(tmp_path)["out_dir"]
    table = pq.read_table(out / "verl" / "train.parquet")
    assert table.column_names == ["data_source", "prompt", "ability", "reward_model", "extra_info"]
    rows = table.to_pylist() + pq.read_table(out / "verl" / "test.parquet").to_pylist()
    assert len(rows) == 1 + len(UNSOLVED)
    row = next(r for r in rows if r["extra_info"]["problem"] == SOLVED.key)
    assert row["data_source"] == "journeyforge/countdown" and row["ability"] == "countdown"
    assert row["prompt"] == [{"role": "user", "content": COUNTDOWN.instructions(SOLVED)}]
    assert row["reward_model"] == {"style": "rule", "ground_truth": SOLVED.answer}
    assert json.loads(row["extra_info"]["payload"]) == SOLVED.payload
    assert {r["extra_info"]["split"] for r in table.to_pylist()} == {"train"}


def test_verl_reward_module_scores_a_right_and_a_wrong_answer(tmp_path):
    out = export(tmp_path)["out_dir"]
    module = load_reward_module(out / "verl" / "reward.py")
    row = next(r for r in pq.read_table(out / "verl" / "train.parquet").to_pylist()
               + pq.read_table(out / "verl" / "test.parquet").to_pylist() if r["extra_info"]["problem"] == SOLVED.key)
    score = lambda text: module.compute_score(row["data_source"], text, row["reward_model"]["ground_truth"],
                                              row["extra_info"])
    assert score(RIGHT) == 1.0            # another right expression than the gold one: the verifier decides
    assert score(WRONG) == pytest.approx(0.1)  # TinyZero: well-formed but wrong
    assert score("<answer>__import__('os')</answer>") == 0.0


def test_verl_reward_module_for_math_needs_only_the_gold_answer(tmp_path):
    from traces.rl_prompts import write_verl

    math = make_task({"name": "math"})
    problem = Problem(key="q", payload={"question": "Tom has 3 apples and buys 4 more. How many?"}, answer="7")
    rl = build_rl_prompts([problem], math, {"q": "train"})
    write_verl(tmp_path, rl, math, {"name": "math"}, "sum", 0.1)
    row = pq.read_table(tmp_path / "train.parquet").to_pylist()[0]
    assert row["prompt"][0]["content"] == math.instructions(problem)
    module = load_reward_module(tmp_path / "reward.py")
    right = "<think>\n3 + 4 = 7\n</think>\nThe answer is \\boxed{7}."
    assert module.compute_score(row["data_source"], right, "7", None) == pytest.approx(1.1)
    assert module.compute_score(row["data_source"], right.replace("{7}", "{8}"), "7", None) == pytest.approx(0.1)


def test_card_documents_the_rl_configuration_and_verl_files(tmp_path):
    card = (export(tmp_path)["out_dir"] / "README.md").read_text()
    assert "config_name: rl" in card and "## RL prompt sets" in card
    assert "verl/train.parquet" in card and "compute_score(data_source, solution_str, ground_truth" in card


def test_export_without_rl_problems_writes_no_rl_files(tmp_path):
    rows = [{"id": 1, "tree_id": 10, "kind": "shortcut", "idx": 0, "is_correct": True, "answer": SOLVED.answer,
             "text": "<think>\nx\n</think>\n<answer>(3 * 5) + 7</answer>", "n_steps": 1, "n_backtracks": 0}]
    out = write_export(rows, solved_tree(), tmp_path / "plain", COUNTDOWN, {})["out_dir"]
    assert not (out / "rl").exists() and not (out / "verl").exists()
    assert "## RL prompt sets" not in (out / "README.md").read_text()
