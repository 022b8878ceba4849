"""Search-algorithm bookkeeping on hand-built trees (no model, no store)."""
from __future__ import annotations

import pytest

from search.algorithms import SearchSettings, make_algorithm
from search.tasks.base import DEAD_END, INVALID, SOLUTION, VALID, StepResult
from search.tree import SearchTree


def _tree() -> SearchTree:
    return SearchTree(1, problem=None, prompt="P\n", prompt_ids=None, root_state={"nums": [1, 2, 3]}, delimiter="\n")


def _res(label: str, reward=None) -> StepResult:
    terminal = label != VALID
    return StepResult(label=label, state=None if label == INVALID else {"n": label}, terminal=terminal,
                      reward=reward if reward is not None else (1.0 if label == SOLUTION else (0.0 if terminal else None)))


def _expand(algo, tree, node, labels):
    children = [tree.add_child(node, f"step {node.seq}-{i} {lab}", _res(lab))[0] for i, lab in enumerate(labels)]
    algo.on_expanded(tree, node, children)
    algo.end_wave(tree)
    return children


def test_mcts_backs_up_label_values_to_every_ancestor():
    algo = make_algorithm(SearchSettings(algorithm="mcts", k=3, max_children=0))  # no widening
    tree = _tree()
    assert algo.select(tree) == [tree.root]
    a, b, c = _expand(algo, tree, tree.root, [VALID, INVALID, SOLUTION])
    # valid 0.5, invalid 0.0, solution reward 1.0
    assert (a.visits, a.value) == (1, 0.5)
    assert (b.visits, b.value) == (1, 0.0)
    assert (c.visits, c.value) == (1, 1.0)
    assert tree.root.visits == 3
    assert tree.root.value == pytest.approx(1.5 / 3)
    # The only expandable node is the valid child: terminals are never selected.
    assert algo.select(tree) == [a]
    (d,) = _expand(algo, tree, a, [DEAD_END])
    assert a.visits == 2 and a.value == pytest.approx(0.25)
    assert tree.root.visits == 4
    # Everything left is terminal: the tree is finished.
    assert algo.select(tree) == []


def test_mcts_prefers_unvisited_then_higher_value():
    algo = make_algorithm(SearchSettings(algorithm="mcts", k=2, c_uct=0.0, max_children=0))
    tree = _tree()
    low, high = _expand(algo, tree, tree.root, [VALID, VALID])
    low.value_sum, high.value_sum = 0.1, 0.9
    assert algo.select(tree) == [high]
    _expand(algo, tree, high, [DEAD_END, DEAD_END])  # high's subtree is now exhausted
    assert algo.select(tree) == [low]


def test_mcts_virtual_loss_spreads_expansions_of_one_wave():
    algo = make_algorithm(SearchSettings(algorithm="mcts", k=3, expansions_per_wave=3))
    tree = _tree()
    _expand(algo, tree, tree.root, [VALID, VALID, VALID])
    chosen = algo.select(tree)
    assert len(chosen) == 3 and len(set(map(id, chosen))) == 3


def test_budget_in_expansions_and_nodes_stops_the_tree():
    algo = make_algorithm(SearchSettings(algorithm="mcts", k=2, max_expansions=2))
    tree = _tree()
    a, _ = _expand(algo, tree, tree.root, [VALID, VALID])
    _expand(algo, tree, algo.select(tree)[0], [VALID, VALID])
    assert tree.expansions == 2 and algo.select(tree) == []
    algo = make_algorithm(SearchSettings(algorithm="mcts", k=2, max_nodes=3))
    tree = _tree()
    _expand(algo, tree, tree.root, [VALID, VALID])
    assert algo.select(tree) == []


def test_stop_on_solution():
    algo = make_algorithm(SearchSettings(algorithm="mcts", k=2, stop_on_solution=True))
    tree = _tree()
    _expand(algo, tree, tree.root, [VALID, SOLUTION])
    assert algo.select(tree) == []


def test_duplicate_samples_merge_and_count_as_visits():
    algo = make_algorithm(SearchSettings(algorithm="mcts", k=3))
    tree = _tree()
    x1, new1 = tree.add_child(tree.root, "1 + 2 = 3", _res(VALID))
    x2, new2 = tree.add_child(tree.root, "1  + 2 =  3", _res(VALID))
    assert new1 and not new2 and x1 is x2 and x1.count == 2
    algo.on_expanded(tree, tree.root, [x1, x2])
    assert x1.visits == 2 and len(tree.nodes) == 2


def test_beam_keeps_the_best_width_children():
    algo = make_algorithm(SearchSettings(algorithm="beam", k=3, beam_width=2))
    tree = _tree()
    assert algo.select(tree) == [tree.root]
    a, b, c = _expand(algo, tree, tree.root, [VALID, INVALID, VALID])
    a.logprob, c.logprob = -5.0, -1.0
    algo.end_wave(tree)  # no-op for an empty pool; the beam was set by the expansion's end_wave
    beam = algo.select(tree)
    assert set(map(id, beam)) == {id(a), id(c)}  # invalid b never enters the beam


def test_best_of_n_samples_n_chains_from_the_root_then_one_each():
    algo = make_algorithm(SearchSettings(algorithm="best_of_n", n_chains=4, k=1))
    tree = _tree()
    assert algo.select(tree) == [tree.root] and algo.samples(tree, tree.root) == 4
    a, _ = tree.add_child(tree.root, "a", _res(VALID))
    a2, _ = tree.add_child(tree.root, "a", _res(VALID))     # merged: two chains share a
    b, _ = tree.add_child(tree.root, "b", _res(VALID))
    s, _ = tree.add_child(tree.root, "s", _res(SOLUTION))
    algo.on_expanded(tree, tree.root, [a, a2, b, s])
    algo.end_wave(tree)
    chosen = algo.select(tree)
    assert {id(n) for n in chosen} == {id(a), id(b)}
    assert algo.samples(tree, a) == 2 and algo.samples(tree, b) == 1


def test_bfs_expands_a_whole_layer_and_dfs_goes_deep():
    bfs = make_algorithm(SearchSettings(algorithm="bfs", k=2))
    tree = _tree()
    a, b = _expand(bfs, tree, tree.root, [VALID, VALID])
    assert bfs.select(tree) == [a, b]
    dfs = make_algorithm(SearchSettings(algorithm="dfs", k=2, expansions_per_wave=1))
    (c, d) = _expand(dfs, tree, b, [VALID, VALID])
    assert dfs.select(tree) == [d]  # deepest, most recent first


def test_unknown_algorithm_names_the_option():
    with pytest.raises(ValueError, match="search.algorithm='nope'"):
        make_algorithm(SearchSettings(algorithm="nope"))


def test_mcts_samples_again_from_a_node_whose_children_all_failed():
    algo = make_algorithm(SearchSettings(algorithm="mcts", k=2, max_children=4, max_expansions=10))
    tree = _tree()
    _expand(algo, tree, tree.root, [INVALID, DEAD_END])
    assert algo.select(tree) == [tree.root]          # widened: 2 of 4 samples drawn
    _expand(algo, tree, tree.root, [INVALID, INVALID])
    assert algo.select(tree) == []                   # 4 samples drawn, all failed: finished
