"""Symbolic search trees: the task's legal steps as a policy, Stream of Search's heuristics, and
best-first BFS / DFS over them through the real explorer into a real SQLite store."""
from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from db import TraceStore
from journeyforge.cli import CONF_DIR
from journeyforge.settings import ConfigError, validate_config
from search.algorithms import SearchSettings, make_algorithm
from search.explorer import Explorer, ExploreSettings
from search.policies import GenerationRequest, make_policy
from search.tasks import make_task
from search.tasks.base import DEAD_END, SOLUTION, VALID, Problem
from search.tasks.countdown.steps import format_step

TASK = make_task({"name": "countdown"})
PROBLEM = Problem(key="2,6,8->32", payload={"nums": [2, 6, 8], "target": 32}, answer="(6 - 2) * 8",
                  dataset="countdown")


def _state(nums, target):
    return {"nums": list(nums), "exprs": [str(n) for n in nums], "target": target}


def test_countdown_lists_every_legal_step_as_a_line_its_parser_reads_back():
    state = _state([2, 6], 12)
    steps = TASK.legal_steps(state)
    assert [text for text, _ in steps] == ["6 + 2 = 8. Left: 8", "6 - 2 = 4. Left: 4", "6 * 2 = 12. Left: 12",
                                           "6 / 2 = 3. Left: 3"]
    for text, after in steps:
        result = TASK.apply_step(state, text)
        assert result.state == after and result.step == text
    assert [TASK.apply_step(state, t).label for t, _ in steps] == [DEAD_END, DEAD_END, SOLUTION, DEAD_END]
    # Three numbers: three pairs, one step per legal operation; equal numbers give no duplicates.
    three = TASK.legal_steps(_state([2, 6, 8], 32))
    assert len(three) == 11 and all(text == format_step(*TASK.apply_step(_state([2, 6, 8], 32), text).info.values(),
                                                        after["nums"]) for text, after in three)
    assert [t for t, _ in TASK.legal_steps(_state([3, 3], 9))] == ["3 + 3 = 6. Left: 6", "3 * 3 = 9. Left: 9",
                                                                   "3 / 3 = 1. Left: 1"]
    assert TASK.legal_steps(_state([7], 7)) == [] and not TASK.can_continue(_state([7], 7))


def test_heuristics_are_stream_of_search_sum_and_multiply():
    # sum: mean distance to the target; mult: distance of each number to its nearest factor of the target.
    assert TASK.heuristic(_state([8, 4], 32), "sum") == (24 + 28) / 2
    assert TASK.heuristic(_state([30], 32), "sum") == 2
    assert TASK.heuristic(_state([8, 4], 32), "mult") == 0          # 8 and 4 divide 32
    assert TASK.heuristic(_state([7, 20], 32), "mult") == 1 + 4     # 7 is 1 from 8, 20 is 4 from 16
    with pytest.raises(ValueError, match="no heuristic 'max'"):
        TASK.heuristic(_state([1, 2], 3), "max")


def _request(state, seed=1):
    return GenerationRequest(prompt="", n=2, seed=seed, meta={"state": state, "problem": PROBLEM})


def test_symbolic_policy_returns_legal_steps_best_first_and_ignores_n():
    state = TASK.initial_state(PROBLEM)
    [every] = make_policy({"backend": "symbolic", "heuristic": "sum"}, task=TASK).generate([_request(state)])
    assert len(every) == 11                                          # all legal steps, not n=2
    assert [c.text.split(".")[0] for c in every[:3]] == ["8 * 2 = 16", "6 * 2 = 12", "8 * 6 = 48"]
    assert [c.logprob for c in every[:3]] == [-21.0, -22.0, -23.0]   # the negated heuristic
    assert [c.logprob for c in every] == sorted((c.logprob for c in every), reverse=True)
    [best] = make_policy({"backend": "symbolic", "heuristic": "sum", "k": 2}, task=TASK).generate([_request(state)])
    assert [c.text for c in best] == [c.text for c in every[:2]]
    [near] = make_policy({"backend": "symbolic", "heuristic": "sum", "max_heuristic": 22}, task=TASK).generate(
        [_request(state)])
    assert len(near) == 2


def test_symbolic_policy_without_heuristic_samples_k_by_the_request_seed():
    policy = make_policy({"backend": "symbolic", "heuristic": None, "k": 3, "seed": 5}, task=TASK)
    state = TASK.initial_state(PROBLEM)
    first = [c.text for c in policy.generate([_request(state, seed=1)])[0]]
    assert first == [c.text for c in policy.generate([_request(state, seed=1)])[0]]
    assert len(first) == 3 and set(first) <= {t for t, _ in TASK.legal_steps(state)}
    others = {tuple(c.text for c in policy.generate([_request(state, seed=s)])[0]) for s in range(2, 12)}
    assert len(others) > 1


def _explore(tmp_path: Path, problems, policy_cfg, **search) -> tuple[TraceStore, int]:
    store = TraceStore(f"sqlite:///{tmp_path / 'sym.db'}")
    ids = store.add_problems([p.row() for p in problems])
    run_id = store.start_run("sym", "explore", {})
    store.create_trees(run_id, ids)
    algo = make_algorithm(SearchSettings(**{"max_expansions": 100, "max_nodes": 200, "expansions_per_wave": 1, **search}))
    Explorer(store, TASK, make_policy(policy_cfg, task=TASK), algo,
             ExploreSettings(max_active_trees=8, progress=False)).run(run_id)
    return store, run_id


def _expanded_in_order(store, tree_id):
    """The steps whose children were generated, in the order of their first child."""
    rows = store.nodes(tree_id)
    text = {r["id"]: r["text"] for r in rows}
    order = []
    for r in rows:
        if r["parent_id"] is not None and text[r["parent_id"]] not in order:
            order.append(text[r["parent_id"]])
    return [t.split(".")[0] for t in order], rows


def test_best_first_dfs_walks_dead_ends_in_heuristic_order_to_the_goal(tmp_path):
    """Stream of Search's DFS on 2, 6, 8 -> 32 by the sum heuristic: the six better-scored first steps
    all fail two levels down; the seventh, 6 - 2 = 4, reaches 8 * 4 = 32."""
    store, run_id = _explore(tmp_path, [PROBLEM], {"backend": "symbolic", "heuristic": "sum"}, algorithm="dfs",
                             best_first=True, expand_dead_ends=True, stop_on_solution=True)
    [tree] = store.trees(run_id)
    order, rows = _expanded_in_order(store, tree["id"])
    assert order == ["", "8 * 2 = 16", "6 * 2 = 12", "8 * 6 = 48", "6 + 2 = 8", "8 + 2 = 10", "8 + 6 = 14",
                     "6 - 2 = 4"]
    assert [r["text"] for r in rows if r["label"] == SOLUTION] == ["8 * 4 = 32. Left: 32"]
    assert tree["status"] == "done" and tree["stats"]["solved"]
    # The oracle still labels the dead branches; the search went below them anyway.
    assert {r["label"] for r in rows if r["depth"] == 1} == {DEAD_END, VALID}


def test_without_expand_dead_ends_the_oracle_prunes_the_search(tmp_path):
    store, run_id = _explore(tmp_path, [PROBLEM], {"backend": "symbolic", "heuristic": "sum"}, algorithm="dfs",
                             best_first=True, stop_on_solution=True)
    order, _ = _expanded_in_order(store, store.trees(run_id)[0]["id"])
    assert order == ["", "6 - 2 = 4"]


def test_best_first_bfs_expands_the_beam_best_open_nodes_per_wave(tmp_path):
    store, run_id = _explore(tmp_path, [PROBLEM], {"backend": "symbolic", "heuristic": "sum"}, algorithm="bfs",
                             best_first=True, beam_width=2, expand_dead_ends=True, stop_on_solution=True)
    order, _ = _expanded_in_order(store, store.trees(run_id)[0]["id"])
    # Root, then one heap over every open node: the depth-1 steps by score, two per wave (their
    # children have one number left and cannot be continued). The wave that reaches the goal still
    # expands its whole beam: 8 - 2 = 6 ties 6 - 2 = 4 at 26 and was popped with it.
    assert order == ["", "8 * 2 = 16", "6 * 2 = 12", "8 * 6 = 48", "6 + 2 = 8", "8 + 2 = 10", "8 + 6 = 14",
                     "6 - 2 = 4", "8 - 2 = 6"]


def test_a_search_out_of_budget_is_kept_and_marked_unsolved(tmp_path):
    store, run_id = _explore(tmp_path, [PROBLEM], {"backend": "symbolic", "heuristic": "sum"}, algorithm="dfs",
                             best_first=True, expand_dead_ends=True, stop_on_solution=True, max_nodes=20)
    [tree] = store.trees(run_id)
    assert tree["status"] == "done" and tree["stats"]["solved"] is False
    assert 20 <= len(store.nodes(tree["id"])) < 30 and not any(r["label"] == SOLUTION for r in store.nodes(tree["id"]))


def test_mixed_search_draws_one_strategy_per_tree_stably():
    algo = make_algorithm(SearchSettings(algorithm="mixed", mix=["bfs:1", "bfs:3", "dfs"]))
    from search.tree import SearchTree

    problems = [Problem(key=f"1,2,{n}->10", payload={"nums": [1, 2, n], "target": 10}) for n in range(3, 40)]
    trees = [SearchTree(i, p, "", None, TASK.initial_state(p), "\n") for i, p in enumerate(problems)]
    drawn = [algo.strategy(t) for t in trees]
    assert drawn == [algo.strategy(t) for t in trees]
    assert {type(a).__name__ for a in drawn} == {"BFS", "DFS"}
    assert {a.s.beam_width for a in drawn if type(a).__name__ == "BFS"} == {1, 3}
    with pytest.raises(ValueError, match=r"search.mix: 'dfs:2' is not a strategy"):
        make_algorithm(SearchSettings(algorithm="mixed", mix=["dfs:2"]))


def _cfg(tmp_path: Path, *overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        return compose(config_name="config", overrides=[f"store.url=sqlite:///{tmp_path / 't.db'}", *overrides])


def test_symbolic_backend_on_a_task_without_legal_steps_is_refused_at_config_time(tmp_path):
    validate_config(_cfg(tmp_path, "policy=symbolic", "search=dfs", "search.best_first=true"))
    with pytest.raises(ConfigError, match=r"^policy.backend=symbolic needs a task that can enumerate its legal "
                                          r"steps; task 'math' cannot"):
        validate_config(_cfg(tmp_path, "policy=symbolic", "task=math"))
    with pytest.raises(ConfigError, match=r"policy.heuristic='max': task 'countdown' has sum, mult, mixed"):
        validate_config(_cfg(tmp_path, "policy=symbolic", "policy.heuristic=max"))
