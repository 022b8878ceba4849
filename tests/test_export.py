"""Dataset export: SFT / stepwise / preference configurations, split by problem, card and stats."""
from __future__ import annotations

import json

import networkx as nx
import pytest
from datasets import DatasetDict, List, Value, load_dataset, load_from_disk

from search.tasks.base import Problem
from search.tasks.countdown.task import CountdownTask
from db.store import TraceStore
from traces.export_settings import ExportSettings
from traces.export import (
    MARKER,
    as_problem,
    export_run,
    build_preference,
    build_sft,
    build_stepwise,
    push_to_hub,
    split_problems,
    write_export,
)


TASK = CountdownTask()


def problem_dict(i: int) -> dict:
    """Problem `p<i>`: 3, 5, 7 (and i, for i > 1, so each problem's question differs) -> 22."""
    nums = [3, 5, 7] + ([i] if i > 1 else [])
    return {"id": i, "dataset": "countdown", "key": f"p{i}", "split": "train",
            "payload": {"nums": nums, "target": 22}, "answer": "3*5+7"}


def hand_tree(tree_id: int = 1, problem: dict | None = None) -> nx.DiGraph:
    """Numbers 3, 5, 7 -> 22, with a solution, a dead end below it, a dead-end branch and an invalid step.

        root
        |- a "3 * 5 = 15. Left: 7, 15"  valid
        |   |- d "15 + 7 = 22. Left: 22"  solution
        |   `- e "15 - 7 = 8. Left: 8"   dead_end
        |- b "5 + 7 = 12. Left: 3, 12"  dead_end
        |   `- f "12 + 3 = 15. Left: 15"  dead_end
        `- c "3 + 9 = 12. Left: 5, 7, 12"  invalid (9 is not available)
    """
    g = nx.DiGraph(root=0, problem=problem or problem_dict(tree_id), tree_id=tree_id)
    nodes = [
        (0, None, "", "root", None),
        (1, 0, "3 * 5 = 15. Left: 7, 15", "valid", None),
        (2, 0, "5 + 7 = 12. Left: 3, 12", "dead_end", "22 is unreachable from 12, 3"),
        (3, 0, "3 + 9 = 12. Left: 5, 7, 12", "invalid", "9 is not available"),
        (4, 1, "15 + 7 = 22. Left: 22", "solution", None),
        (5, 1, "15 - 7 = 8. Left: 8", "dead_end", "22 is unreachable from 8"),
        (6, 2, "12 + 3 = 15. Left: 15", "dead_end", "15 is not 22"),
    ]
    for seq, parent, text, label, reason in nodes:
        g.add_node(seq, seq=seq, text=text, label=label, reason=reason, depth=0 if parent is None else 1)
        if parent is not None:
            g.add_edge(parent, seq)
    return g


def trajectory_rows(tree_id: int) -> list[dict]:
    """A shortcut and a journey trajectory of the hand tree, as stored in `trajectories`."""
    shortcut = TASK.render_completion(["3 * 5 = 15. Left: 7, 15", "15 + 7 = 22. Left: 22"], "3*5+7")
    journey = TASK.render_completion(
        ["5 + 7 = 12. Left: 3, 12", "12 + 3 = 15. Left: 15", "15 is not 22; back to the start.",
         "3 * 5 = 15. Left: 7, 15", "15 + 7 = 22. Left: 22"],
        "3*5+7",
    )
    rows = []
    for idx, (kind, text, steps, backtracks) in enumerate([("shortcut", shortcut, 2, 0), ("journey", journey, 4, 1)]):
        rows.append({
            "id": tree_id * 10 + idx, "tree_id": tree_id, "run_id": 2, "kind": kind, "idx": 0, "text": text,
            "messages": [{"role": "user", "content": TASK.instructions(as_problem(problem_dict(tree_id)))},
                         {"role": "assistant", "content": text}],
            "node_ids": [], "answer": "3*5+7", "n_steps": steps, "n_backtracks": backtracks,
            "n_tokens": None, "is_correct": True,
        })
    return rows


def many_trees(n: int) -> tuple[list[dict], dict[int, nx.DiGraph]]:
    rows, graphs = [], {}
    for tree_id in range(1, n + 1):
        graphs[tree_id] = hand_tree(tree_id)
        rows.extend(trajectory_rows(tree_id))
    return rows, graphs


# ------------------------------------------------------------------------------------------ split


def test_split_is_deterministic_and_stable_when_problems_are_added():
    problems = [Problem(f"p{i}", {}) for i in range(50)]
    first = split_problems(problems, 0.2, seed=3)
    assert first == split_problems(list(reversed(problems)), 0.2, seed=3)
    grown = split_problems(problems + [Problem(f"q{i}", {}) for i in range(50)], 0.2, seed=3)
    assert {k: grown[k] for k in first} == first
    assert 3 <= list(first.values()).count("test") <= 20


def test_split_keeps_one_test_problem_when_few_problems():
    problems = [Problem("a", {}), Problem("b", {})]
    for seed in range(10):
        split = split_problems(problems, 0.01, seed)
        assert sorted(split.values()) == ["test", "train"]
    assert split_problems([Problem("only", {})], 0.5, 0) in ({"only": "train"}, {"only": "test"})


def test_held_out_problems_always_go_to_test():
    problems = [Problem(f"p{i}", {}, split="test" if i < 3 else "train") for i in range(10)]
    split = split_problems(problems, 0.0001, seed=0)
    assert all(split[f"p{i}"] == "test" for i in range(3))
    assert "train" in split.values()


def test_split_rejects_a_fraction_outside_unit_interval():
    with pytest.raises(ValueError, match="export.test_fraction"):
        split_problems([Problem("a", {})], 1.0, 0)


# -------------------------------------------------------------------------------------------- SFT


def test_sft_columns_and_split_by_problem():
    rows, graphs = many_trees(12)
    problems = {t: g.graph["problem"] for t, g in graphs.items()}
    dd = build_sft(rows, problems, TASK, test_fraction=0.25, seed=1)
    assert set(dd) == {"train", "test"}
    assert dd["train"].column_names == ["messages", "prompt", "completion", "kind", "tree_id", "problem",
                                        "answer", "n_steps", "n_backtracks", "is_correct", "spans"]
    assert len(dd["train"]) + len(dd["test"]) == 24 and len(dd["test"]) > 0
    assert not set(dd["train"]["problem"]) & set(dd["test"]["problem"])
    row = dd["train"][0]
    assert row["prompt"] == "Numbers: 3, 5, 7\nTarget: 22\n"
    assert row["completion"].startswith("<think>\n") and row["completion"].endswith("<answer>3*5+7</answer>")
    assert [m["role"] for m in row["messages"]] == ["user", "assistant"]
    assert row["messages"][1]["content"] == row["completion"]
    journey = dd["train"].filter(lambda r: r["kind"] == "journey")[0]
    assert (journey["n_steps"], journey["n_backtracks"]) == (4, 1)


def test_sft_drops_unverified_trajectories_and_names_missing_problems():
    rows = trajectory_rows(1)
    rows[1]["is_correct"] = False
    dd = build_sft(rows, {1: problem_dict(1)}, TASK, test_fraction=0.0)
    assert dd["train"]["kind"] == ["shortcut"] and len(dd["test"]) == 0
    assert len(build_sft(rows, {1: problem_dict(1)}, TASK, 0.0, correct_only=False)["train"]) == 2
    with pytest.raises(KeyError, match="tree 1"):
        build_sft(rows, {}, TASK)
    with pytest.raises(ValueError, match="problem of tree 1 has no 'payload'"):
        build_sft(rows, {1: {"key": "p1"}}, TASK)


def test_sft_builds_messages_from_instructions_when_row_has_none():
    rows = trajectory_rows(1)[:1]
    rows[0]["messages"] = None
    row = build_sft(rows, {1: problem_dict(1)}, TASK, 0.0)["train"][0]
    user = TASK.instructions(Problem("p1", {"nums": [3, 5, 7], "target": 22}))
    assert row["messages"][0] == {"role": "user", "content": user}


# ------------------------------------------------------------------------------------- stepwise


def test_stepwise_labels_follow_node_labels_on_every_root_to_leaf_path():
    dd = build_stepwise({1: hand_tree(1)}, TASK, test_fraction=0.0)
    got = [(r["completions"], r["labels"]) for r in dd["train"]]
    assert got == [
        (["3 * 5 = 15. Left: 7, 15", "15 + 7 = 22. Left: 22"], [True, True]),
        (["3 * 5 = 15. Left: 7, 15", "15 - 7 = 8. Left: 8"], [True, False]),
        (["5 + 7 = 12. Left: 3, 12", "12 + 3 = 15. Left: 15"], [False, False]),
        (["3 + 9 = 12. Left: 5, 7, 12"], [False]),
    ]
    assert set(dd["train"]["prompt"]) == {"Numbers: 3, 5, 7\nTarget: 22\n"}


def test_stepwise_has_trl_column_types_and_dedupes_repeated_paths():
    # Two trees of the same problem (e.g. two explore runs) give the same paths once.
    same = problem_dict(1)
    dd = build_stepwise({1: hand_tree(1, same), 2: hand_tree(2, same)}, TASK, test_fraction=0.0)
    assert len(dd["train"]) == 4
    features = dd["train"].features
    assert features["prompt"] == Value("string")
    assert features["completions"] == List(Value("string"))
    assert features["labels"] == List(Value("bool"))
    assert isinstance(dd["train"][0]["labels"][0], bool)


# ----------------------------------------------------------------------------------- preference


def test_preference_pairs_share_prefix_and_chosen_is_on_solution_path():
    dd = build_preference({1: hand_tree(1)}, TASK, test_fraction=0.0)
    got = [(r["prompt"], r["chosen"], r["rejected"], r["rejected_label"]) for r in dd["train"]]
    question = "Numbers: 3, 5, 7\nTarget: 22\n"
    assert got == [
        (question, "3 * 5 = 15. Left: 7, 15", "5 + 7 = 12. Left: 3, 12", "dead_end"),
        (question, "3 * 5 = 15. Left: 7, 15", "3 + 9 = 12. Left: 5, 7, 12", "invalid"),
        (question + "3 * 5 = 15. Left: 7, 15\n", "15 + 7 = 22. Left: 22", "15 - 7 = 8. Left: 8", "dead_end"),
    ]
    assert dd["train"][1]["rejected_reason"] == "9 is not available"


def test_preference_is_empty_for_a_tree_without_solution():
    g = hand_tree(1)
    g.nodes[4]["label"] = "dead_end"
    dd = build_preference({1: g}, TASK, test_fraction=0.0)
    assert len(dd["train"]) == 0 and dd["train"].column_names[:3] == ["prompt", "chosen", "rejected"]


# -------------------------------------------------------------------------------- whole export


def test_export_writes_every_configuration_card_and_stats(tmp_path):
    rows, graphs = many_trees(6)
    cfg = {"export": {"test_fraction": 0.3, "seed": 0}, "search": {"algorithm": "mcts"}}
    summary = write_export(rows, graphs, tmp_path / "out", TASK, cfg)
    out = tmp_path / "out"
    assert set(summary["configs"]) == {"sft_journey", "sft_shortcut", "stepwise", "preference", "prm_shepherd",
                                       "prm_openrlhf"}

    for relative in ("sft/shortcut", "sft/journey", "stepwise", "preference"):
        loaded = load_from_disk(str(out / relative))
        assert isinstance(loaded, DatasetDict) and set(loaded) == {"train", "test"}
        assert {s: len(d) for s, d in loaded.items()} == summary["configs"][relative.replace("/", "_")]
    # Every configuration splits the same problems the same way.
    test_problems = {
        c: set(load_from_disk(str(out / c))["test"]["problem"])
        for c in ("sft/journey", "stepwise", "preference", "prm_shepherd", "prm_openrlhf")
    }
    assert len({frozenset(v) for v in test_problems.values()}) == 1 and test_problems["stepwise"]

    card = (out / "README.md").read_text()
    assert card.startswith("---\nconfigs:\n- config_name: sft_journey")
    assert "path: sft/journey/train/*.arrow" in card
    counts = summary["configs"]["sft_shortcut"]
    assert f"| `sft_shortcut` | {counts['train']} | {counts['test']} |" in card
    assert "| journey | 6 |" in card and "| shortcut | 6 |" in card
    assert "algorithm: mcts" in card and "arXiv:2410.18982" in card and "arXiv:2404.03683" in card
    # How labels were decided: the task's own notes (oracle, verifier), then the generic export text.
    assert TASK.label_notes in card and "exact oracle" in card and "deterministic verifier" in card
    assert (out / "stats.png").stat().st_size > 1000
    assert (out / "stats.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / MARKER).read_text())["configs"] == summary["configs"]
    # The card's `configs:` header is what the Hub viewer reads; load_dataset reads it the same way.
    viewed = load_dataset(str(out), "stepwise", cache_dir=str(tmp_path / "cache"))
    assert len(viewed["train"]) == summary["configs"]["stepwise"]["train"]


def test_export_counts_lengths_with_the_given_tokenizer(tmp_path):
    rows, graphs = many_trees(2)
    chars = write_export(rows, graphs, tmp_path / "a", TASK, {}, count_tokens=len, token_unit="chars")
    words = write_export(rows, graphs, tmp_path / "b", TASK, {})
    shortcut_chars = len(rows[0]["text"])
    assert f"| shortcut | 2 | {float(shortcut_chars)} |" in chars["stats_table"]
    assert f"| shortcut | 2 | {float(len(rows[0]['text'].split()))} |" in words["stats_table"]
    assert "mean chars" in (tmp_path / "a" / "README.md").read_text()


def test_reexport_replaces_the_directory_and_refuses_foreign_directories(tmp_path):
    rows, graphs = many_trees(3)
    out = tmp_path / "out"
    write_export(rows, graphs, out, TASK, {})
    (out / "stale.txt").write_text("from an older export")
    write_export([r for r in rows if r["kind"] == "shortcut"], graphs, out, TASK, {})
    assert not (out / "stale.txt").exists() and not (out / "sft" / "journey").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temp or old copies left

    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="mine"):
        write_export(rows, graphs, foreign, TASK, {})
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_push_to_hub_fails_clearly_when_offline(tmp_path, monkeypatch):
    import huggingface_hub

    rows, graphs = many_trees(2)
    write_export(rows, graphs, tmp_path / "out", TASK, {})
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ConnectionError, match="someone/journeys.*offline"):
        push_to_hub(tmp_path / "out", "someone/journeys")
    with pytest.raises(FileNotFoundError, match="not a journeyforge export"):
        push_to_hub(tmp_path, "someone/journeys")


def test_single_problem_export_round_trips_with_an_empty_test_split(tmp_path):
    write_export(trajectory_rows(1), {1: hand_tree(1)}, tmp_path / "out", TASK, {"export": {"test_fraction": 0.5}})
    for relative in ("sft/shortcut", "stepwise", "preference"):
        loaded = load_from_disk(str(tmp_path / "out" / relative))
        assert len(loaded["train"]) + len(loaded["test"]) > 0
        assert 0 in (len(loaded["train"]), len(loaded["test"]))
        assert loaded["test"].features == loaded["train"].features


def store_hand_trees(store: TraceStore, n: int) -> int:
    """Explore + linearize runs holding `n` hand trees and their trajectories; the linearize run id."""
    explore = store.start_run("exp", "explore", {"search": {"algorithm": "mcts"}})
    problem_ids = store.add_problems([{k: v for k, v in problem_dict(i).items() if k != "id"} for i in range(1, n + 1)])
    tree_ids = store.create_trees(explore, problem_ids)
    linearize = store.start_run("exp", "linearize", {"linearize": {"kinds": ["shortcut", "journey"]}})
    for tree_id in tree_ids:
        graph, ids = hand_tree(tree_id), {}
        for seq in sorted(graph):  # parents before children: seq order is creation order
            attrs = graph.nodes[seq]
            parent = next(iter(graph.predecessors(seq)), None)
            [ids[seq]] = store.add_nodes([{
                "tree_id": tree_id, "seq": seq, "depth": 0 if parent is None else graph.nodes[parent]["depth"] + 1,
                "parent_id": None if parent is None else ids[parent], "text": attrs["text"],
                "label": attrs["label"], "reason": attrs["reason"],
            }])
        for row in trajectory_rows(tree_id):
            body = {k: v for k, v in row.items() if k not in ("id", "tree_id", "run_id", "kind")}
            store.replace_trajectories(linearize, tree_id, row["kind"], [body])
    return linearize


def test_export_run_reads_trajectories_and_trees_from_the_store(sqlite_url, tmp_path):
    with TraceStore(sqlite_url) as store:
        run_id = store_hand_trees(store, 4)
        summary = export_run(store, run_id, ["journey"], tmp_path / "out", TASK,
                             {"export": {"test_fraction": 0.25, "seed": 0}})
    assert set(summary["configs"]) == {"sft_journey", "stepwise", "preference", "prm_shepherd", "prm_openrlhf"}
    assert sum(summary["configs"]["sft_journey"].values()) == 4
    assert sum(summary["configs"]["stepwise"].values()) == 16
    assert sum(summary["configs"]["preference"].values()) == 12
    sft = load_from_disk(str(tmp_path / "out" / "sft" / "journey"))
    assert sorted([*sft["train"]["problem"], *sft["test"]["problem"]]) == ["p1", "p2", "p3", "p4"]
    assert "pushed_to" not in summary


def test_export_run_names_the_run_when_it_has_nothing_to_export(sqlite_url, tmp_path):
    with TraceStore(sqlite_url) as store:
        run_id = store_hand_trees(store, 1)
        with pytest.raises(ValueError, match=f"linearize run {run_id} has no trajectories"):
            export_run(store, run_id, ["stream"], tmp_path / "out", TASK, {})
    assert not (tmp_path / "out").exists()


def test_step_trees_all_adds_the_unsolved_trees_of_the_explore_run_to_the_step_rows(sqlite_url, tmp_path):
    """export.step_trees: `solved` builds the stepwise rows from the trees the trajectories came from;
    `all` from every finished tree of the explore run (a tree without a trajectory, e.g. unsolved, too);
    the SFT rows are the same either way."""
    with TraceStore(sqlite_url) as store:
        run_id = store_hand_trees(store, 4)
        trees = store.trees(store.get_run("exp", "explore")["id"])
        for tree in trees:
            store.set_tree_status(tree["id"], "done")
        for kind in ("shortcut", "journey"):  # two trees lose their trajectories: as if unsolved
            for tree in trees[2:]:
                store.replace_trajectories(run_id, tree["id"], kind, [])
        counts = {}
        for choice in ("solved", "all"):
            summary = export_run(store, run_id, ["journey"], tmp_path / choice, TASK,
                                 settings=ExportSettings(test_fraction=0.25, seed=0, step_trees=choice))
            counts[choice] = (sum(summary["configs"]["sft_journey"].values()),
                              sum(summary["configs"]["stepwise"].values()))
    assert counts == {"solved": (2, 8), "all": (2, 16)}
    with pytest.raises(ValueError, match=r"^export.step_trees='some': choose one of solved, all$"):
        ExportSettings(step_trees="some").validate()
