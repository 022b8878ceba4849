"""A second task (tests/sum_task.py: blank-line steps, `Total: [[n]]` answers, no oracle) through
explore, linearize, export and one SFT step: a Countdown assumption in generic code fails here."""
from __future__ import annotations

import random

import networkx as nx
import pytest
from datasets import load_from_disk

from db import TraceStore
from search.algorithms import SearchSettings, make_algorithm
from search.explorer import Explorer, ExploreSettings
from search.policies.scripted import ScriptedPolicy
from search.tasks import make_task
from tests.sum_task import register
from traces.export import write_export
from traces.linearize import linearize_tree

register()


def _explore(url: str, error_rate: float = 0.4, **search):
    task = make_task({"name": "sum", "n_train": 6, "n_test": 2})
    store = TraceStore(url)
    problems = task.load_problems()
    ids = store.add_problems([p.row() for p in problems])
    run_id = store.start_run("sum", "explore", {})
    store.create_trees(run_id, [i for p, i in zip(problems, ids) if p.split == "train"])
    settings = SearchSettings(**{"algorithm": "mcts", "k": 3, "max_expansions": 6, "max_depth": 4, **search})
    policy = ScriptedPolicy(task, error_rate=error_rate, seed=1)
    summary = Explorer(store, task, policy, make_algorithm(settings), ExploreSettings(progress=False)).run(run_id)
    return task, store, run_id, summary, policy


def test_sum_task_prompts_join_steps_with_its_own_delimiter(sqlite_url):
    task, store, run_id, summary, _ = _explore(sqlite_url)
    assert summary.trees_done == 6 and summary.solved > 0
    for t in store.trees(run_id):
        graph = store.tree(t["id"])
        for n, attrs in graph.nodes(data=True):
            assert "nums" not in (attrs.get("state") or {})
    # The prompt of a depth-2 node ends with both steps, each followed by a blank line.
    from search.tree import SearchTree
    tree_row = store.trees(run_id)[0]
    rows = store.nodes(tree_row["id"])
    problem = task.load_problems()[0]
    tree = SearchTree.from_rows(tree_row["id"], problem, "P", None, rows, lambda r: r["label"] != "valid",
                                task.step_delimiter)
    deep = [n for n in tree.nodes if n.depth == 2]
    if deep:
        text = tree.prompt_for(deep[0])
        assert text == "P" + deep[0].parent.text + "\n\n" + deep[0].text + "\n\n"


def test_sum_task_linearizes_exports_and_trains_one_sft_step(sqlite_url, tmp_path, tiny_model_dir):
    task, store, run_id, _, _ = _explore(sqlite_url)
    graphs = store.tree_graphs([t["id"] for t in store.trees(run_id)])
    rows = []
    for tid, graph in graphs.items():
        for kind in ("shortcut", "journey"):
            out, _ = linearize_tree(graph, task, kind)
            rows += [dict(r, tree_id=tid) for r in out]
    journeys = [r for r in rows if r["kind"] == "journey"]
    shortcuts = [r for r in rows if r["kind"] == "shortcut"]
    assert shortcuts and journeys
    for r in rows:
        assert r["is_correct"] and task.extract_answer(r["text"]) == r["answer"]
        assert r["text"].endswith(f"Total: [[{r['answer']}]]")
        body = r["text"].split("</think>")[0]
        assert "\n\n" in body  # steps joined by the task's blank line, not one per line
        assert "<answer>" not in r["text"]
    # Reflections use the task's words for the state ("the running total 7"), never Countdown's.
    assert any("running total" in r["text"] for r in journeys)

    with pytest.raises(ValueError, match="stream-of-search grammar"):
        linearize_tree(next(iter(graphs.values())), task, "stream")

    for r in rows:
        r["n_tokens"] = len(r["text"].split())
        r.pop("lines", None)
    out_dir = tmp_path / "export"
    write_export(rows, graphs, out_dir, task, {"export": {"test_fraction": 0.0}}, None)
    card = (out_dir / "README.md").read_text()
    assert "journeyforge sum trajectories" in card and "the last sum" in card and "Countdown" not in card
    stepwise = load_from_disk(str(out_dir / "stepwise"))
    assert stepwise["train"][0]["values"] and len(stepwise["train"][0]["values"]) == len(stepwise["train"][0]["labels"])

    from training.sft_settings import SFTSettings
    from training.sft import train_sft

    data = out_dir / "sft" / "journey"
    settings = SFTSettings(model=str(tiny_model_dir), max_steps=1, per_device_train_batch_size=2, format="prompt_completion")
    summary = train_sft(str(data), str(tmp_path / "adapter"), settings)
    assert summary["steps"] == 1


def test_rollout_values_are_the_fraction_of_correct_completions(sqlite_url):
    task, store, run_id, summary, _ = _explore(sqlite_url, error_rate=0.4, value="rollout", rollouts=4)
    assert summary.rollouts > 0
    problems = {p.key: p for p in task.load_problems()}
    valued = 0
    for t in store.trees(run_id):
        nodes = {r["id"]: r for r in store.nodes(t["id"])}
        by_node: dict[int, list[dict]] = {}
        for r in store.rollouts(tree_id=t["id"]):
            by_node.setdefault(r["node_id"], []).append(r)
        for node_id, rolls in by_node.items():
            node = nodes[node_id]
            assert sorted(r["idx"] for r in rolls) == list(range(4))  # neither lost nor duplicated
            correct = sum(r["is_correct"] for r in rolls)
            assert node["mc_value"] == pytest.approx(correct / 4)
            assert node["mc_hard"] == (1.0 if correct else 0.0)
            assert 0.0 <= node["mc_value"] <= 1.0
            for r in rolls:  # each stored verdict is the verifier's on the stored answer
                assert r["answer"] == task.extract_answer(r["text"])
                assert r["is_correct"] == task.verify(problems[t["problem"]["key"]], r["answer"])
            if correct == 0:
                assert node["label"] == "dead_end" and node["reason"] == "0 of 4 completions reached the answer"
                assert node["first_error"]
            else:
                assert node["label"] == "valid"
            valued += 1
        # Nodes that are final or illegal get no rollouts.
        for node in nodes.values():
            if node["label"] in ("invalid", "solution"):
                assert node["id"] not in by_node and node["mc_value"] is None
    assert valued > 0


def test_rollouts_go_in_one_batched_call_per_wave_however_many_trees(sqlite_url):
    task, store, run_id, summary, policy = _explore(sqlite_url, value="rollout", rollouts=2)
    # One generate for the wave's expansions and one for its rollouts, across all six trees.
    assert policy.stats.calls <= 2 * summary.waves
    assert policy.stats.calls > summary.waves


def test_first_error_marks_only_the_first_mistake_on_a_path(sqlite_url):
    task, store, run_id, _, _ = _explore(sqlite_url, error_rate=0.5)
    for t in store.trees(run_id):
        graph = store.tree(t["id"])
        for n, attrs in graph.nodes(data=True):
            mistakes_above = [a for a in nx.ancestors(graph, n)
                              if graph.nodes[a]["label"] in ("invalid", "dead_end", "wrong_answer")]
            is_mistake = attrs["label"] in ("invalid", "dead_end", "wrong_answer")
            assert attrs["first_error"] == (is_mistake and not mistakes_above)


def test_scripted_rollout_of_the_sum_task_is_a_whole_completion():
    task = make_task({"name": "sum"})
    problem = task.load_problems()[0]
    text = task.sample_rollout(task.initial_state(problem), random.Random(0), 0.0, problem)
    assert task.verify(problem, task.extract_answer(text))


def test_a_correct_rollout_is_grafted_into_the_tree_as_a_verified_solution(sqlite_url, tmp_path):
    task, store, run_id, _, _ = _explore(sqlite_url, error_rate=0.5, value="rollout", rollouts=3)
    grafted_solutions = 0
    for t in store.trees(run_id):
        graph = store.tree(t["id"])
        for n, attrs in graph.nodes(data=True):
            if attrs["finish_reason"] != "rollout":
                continue
            parent = next(iter(graph.predecessors(n)))
            # Every graft hangs below a node some rollout succeeded from, or below another grafted step.
            assert graph.nodes[parent]["finish_reason"] == "rollout" or graph.nodes[parent]["mc_value"] > 0
            if attrs["label"] == "solution":
                grafted_solutions += 1
                states = [graph.nodes[m]["state"] for m in nx.shortest_path(graph, graph.graph["root"], n)]
                problem = task.load_problems()[[p.key for p in task.load_problems()].index(t["problem"]["key"])]
                assert task.verify(problem, task.final_answer(problem, states))
            else:
                assert attrs["label"] == "valid" and graph.out_degree(n) >= 1
    assert grafted_solutions > 0
    _, store2, run2, _, _ = _explore(f"sqlite:///{tmp_path / 'nograft.db'}", error_rate=0.5, value="rollout",
                                     rollouts=3, graft_rollouts=False)
    assert all(r["finish_reason"] != "rollout" for t in store2.trees(run2) for r in store2.nodes(t["id"]))
