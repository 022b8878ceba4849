"""Properties of every linearizer on random Countdown trees with real states and labels."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from search.tasks.base import MISTAKE_LABELS, SOLUTION
from tests.linearize_trees import countdown_task, random_tree
from traces.journey import JourneyConfig
from traces.linearize import linearize_tree
from traces.reflections import TemplateReflector
from db.stored_tree import path_to
from traces.problems import problem_of

TASK = countdown_task()
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check_common(G, traj, kind):
    assert traj["kind"] == kind and traj["tree_id"] == G.graph["tree_id"]
    assert traj["text"] == TASK.render_completion(traj["lines"], traj["answer"])
    assert TASK.extract_answer(traj["text"]) == traj["answer"]
    assert traj["is_correct"] and TASK.verify(problem_of(G), traj["answer"])
    assert G.nodes[traj["node_ids"][-1]]["label"] == SOLUTION


def _reflection_lines(G):
    """Every reflection / return line the template reflector could write for this tree."""
    reflect = TemplateReflector(TASK)
    states = [G.nodes[n]["state"] for n in G if G.nodes[n]["label"] not in MISTAKE_LABELS]
    lines = set()
    for n in G:
        if G.nodes[n]["label"] in MISTAKE_LABELS:
            for state in states:
                lines |= reflect.candidate_lines(dict(G.nodes[n]), state)
    return lines


@SETTINGS
@given(
    rng=st.randoms(use_true_random=False),
    n_nodes=st.integers(3, 30),
    k=st.integers(2, 4),
    max_backtracks=st.integers(1, 5),
    select=st.sampled_from(["random", "plausible", "invalid", "dead_end"]),
    follow=st.sampled_from(["leaf", "step"]),
    max_tokens=st.one_of(st.none(), st.integers(10, 120)),
)
def test_journeys_keep_the_whole_correct_path_and_only_tree_or_reflection_lines(
    rng, n_nodes, k, max_backtracks, select, follow, max_tokens
):
    G = random_tree(rng, n_nodes)
    cfg = JourneyConfig(k=k, max_backtracks=max_backtracks, select=select, follow=follow, max_tokens=max_tokens)
    trajs, reason = linearize_tree(G, TASK, "journey", cfg)
    has_solution = any(G.nodes[n]["label"] == SOLUTION for n in G)
    assert (trajs == []) == (reason is not None)
    if not has_solution:
        assert trajs == [] and "no verified solution" in reason
        return
    for traj in trajs:
        _check_common(G, traj, "journey")
        path = path_to(G, traj["node_ids"][-1])[1:]
        on_path = [n for n in traj["node_ids"] if n in set(path)]
        assert on_path == path  # the complete correct path, in order
        texts = {G.nodes[n]["text"] for n in traj["node_ids"]}
        reflections = _reflection_lines(G)
        assert all(line in texts or line in reflections for line in traj["lines"])
        assert traj["n_steps"] == len(traj["node_ids"])
        assert 0 < traj["n_backtracks"] <= max_backtracks
        assert sum(line in reflections for line in traj["lines"]) == 2 * traj["n_backtracks"]
        if max_tokens is not None:
            assert len(traj["text"].split()) <= max_tokens


@SETTINGS
@given(rng=st.randoms(use_true_random=False), n_nodes=st.integers(3, 30))
def test_shortcut_and_stream_end_with_a_verified_answer(rng, n_nodes):
    G = random_tree(rng, n_nodes)
    solved = any(G.nodes[n]["label"] == SOLUTION for n in G)
    for kind in ("shortcut", "stream"):
        trajs, reason = linearize_tree(G, TASK, kind, None)
        assert len(trajs) == (1 if solved else 0) and (reason is None) == solved
        for traj in trajs:
            _check_common(G, traj, kind)
    if solved:
        [short] = linearize_tree(G, TASK, "shortcut", None)[0]
        path = path_to(G, short["node_ids"][-1])[1:]
        assert short["node_ids"] == path
        assert short["lines"] == [G.nodes[n]["text"] for n in path]
        [stream] = linearize_tree(G, TASK, "stream", None)[0]
        assert stream["lines"][-1].endswith("equal: Goal Reached")
        assert [G.nodes[n]["seq"] for n in stream["node_ids"]] == sorted(G.nodes[n]["seq"] for n in stream["node_ids"])
