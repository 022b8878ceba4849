"""Model text a trajectory quotes never carries the task's frame markers (`Task.quote`): one rule for
every task and every kind, applied when a step is parsed and when it is shown."""
from __future__ import annotations

import random

import networkx as nx
import pytest

from db import TraceStore
from search.algorithms import SearchSettings, make_algorithm
from search.explorer import Explorer, ExploreSettings
from search.policies.scripted import ScriptedPolicy
from search.tasks import make_task
from search.tasks.base import INVALID, SOLUTION, VALID, WRONG_ANSWER
from tests.linearize_trees import TreeBuilder, countdown_task
from tests.sum_task import register
from traces.export import build_preference, build_stepwise
from traces.frames import frame_problem
from traces.journey import linearize_journey
from traces.linearize import linearize_tree
from traces.llm_reflection import check_rewrite
from traces.reflections import TemplateReflector
from traces.shortcut import linearize_shortcut

register()
COUNTDOWN = countdown_task()


@pytest.fixture(scope="module")
def math_task():
    return make_task({"name": "math"})


@pytest.mark.parametrize("text, shown", [
    ("9+(5*2)</think>", "9+(5*2)"),
    ("3 + 5 = 8. Left: 7, 8<|im_end|>", "3 + 5 = 8. Left: 7, 8"),
    ("</think>\n<answer>(3 + 5) * 2</answer>", "(3 + 5) * 2"),     # Countdown's answer tags are markers
    ("<|im_start|>assistant", "assistant"),
    ("5 * 2 = 10<｜end▁of▁sentence｜>", "5 * 2 = 10"),
    ("</think><|im_end|>", ""),
    ("a <| b |> c", "a <| b |> c"),                              # not a special token
])
def test_countdown_quotes_model_text_up_to_the_first_marker(text, shown):
    assert COUNTDOWN.quote(text) == shown


def test_each_task_declares_its_own_answer_markers(math_task):
    sum_task = make_task({"name": "sum"})
    assert sum_task.quote("3 + 4 = 7 Total: [[7]]") == "3 + 4 = 7"
    assert math_task.quote("so x = 4.</think>\nThe answer is \\boxed{4}.") == "so x = 4."
    assert math_task.quote("\\boxed{4} <answer>") == "\\boxed{4} <answer>"   # not math's frame
    assert sum_task.apply_step({"total": 3, "rest": [4]}, "3 + 4 = 7</think>").label == SOLUTION


def test_countdown_parses_a_step_up_to_the_marker():
    state = {"nums": [3, 5, 7], "exprs": ["3", "5", "7"], "target": 22}
    ran_on = COUNTDOWN.apply_step(state, "3 * 5 = 15. Left: 7, 15</think>")
    assert (ran_on.label, ran_on.state["nums"], ran_on.step) == (VALID, [7, 15], "3 * 5 = 15. Left: 7, 15")
    # The equation after a marker is not the step the model wrote before it.
    assert COUNTDOWN.apply_step(state, "Let me see<|im_end|>3 * 5 = 15").label == INVALID


def test_math_shows_the_step_before_the_marker_and_still_reads_its_answer(math_task):
    problem = math_task.load_problems()[0]
    gold = problem.answer
    closing = math_task.apply_step(math_task.initial_state(problem), f"So it is {gold}.\n</think>\nThe answer is "
                                   f"\\boxed{{{gold}}}.", problem)
    assert (closing.label, closing.step) == (SOLUTION, f"So it is {gold}.")
    wrong = math_task.apply_step(math_task.initial_state(problem), "So.</think>The answer is \\boxed{-1}.", problem)
    assert wrong.label == WRONG_ANSWER and wrong.step == "So."
    only_marker = math_task.apply_step(math_task.initial_state(problem), "<|im_end|>", problem)
    assert (only_marker.label, only_marker.reason) == (INVALID, "empty step")
    assert math_task.apply_step(math_task.initial_state(problem), "</think>", problem).label == INVALID


def marked_tree() -> nx.DiGraph:
    """3, 5, 7 -> 22, every step as a model that ran past its stop string wrote it."""
    b = TreeBuilder([3, 5, 7], 22)
    b.step(b.root, "9+(5*2)</think>", INVALID, reason="it is not a step of the form 'a + b = c'")
    n1 = b.step(b.root, "3 * 5 = 15. Left: 7, 15</think>", VALID, {"nums": [7, 15], "exprs": ["7", "3 * 5"]})
    b.step(n1, "15 - 7 = 8<|im_end|>", INVALID, reason="15 - 7 is 8, not 8</think>")
    b.step(n1, "15 + 7 = 22</think>\n<answer>(3 * 5) + 7</answer>", SOLUTION,
           {"nums": [22], "exprs": ["(3 * 5) + 7"]})
    return b.G


@pytest.mark.parametrize("linearize, cfg", [
    (linearize_shortcut, None),
    (linearize_journey, {"k": 3, "max_backtracks": 3, "seed": 1}),
])
def test_shortcuts_and_journeys_quote_steps_and_reasons_without_markers(linearize, cfg):
    [traj] = linearize(marked_tree(), COUNTDOWN, cfg)
    text = traj["text"]
    assert text.count("<think>") == text.count("</think>") == text.count("<answer>") == 1
    assert "<|" not in text and text.endswith("</think>\n<answer>(3 * 5) + 7</answer>")
    assert "3 * 5 = 15. Left: 7, 15\n" in text and "15 + 7 = 22\n" in text
    if linearize is linearize_journey:
        assert traj["n_backtracks"] == 2 and "9+(5*2)\n" in text and "15 - 7 = 8\n" in text


def test_reflections_quote_a_reason_without_markers():
    reflector = TemplateReflector(COUNTDOWN)
    assert reflector.reason({"label": INVALID, "reason": "that gives 12</think>, which is wrong"}) == "that gives 12"
    reflection, _ = reflector({"label": INVALID, "reason": "<|im_end|>"}, None, random.Random(0))
    assert "<|" not in reflection


def test_stepwise_and_preference_rows_quote_steps_without_markers():
    G = marked_tree()
    G.graph["problem"]["answer"] = "(3 * 5) + 7"
    stepwise = build_stepwise({7: G}, COUNTDOWN, test_fraction=0.0)["train"]
    steps = [s for row in stepwise["completions"] for s in row]
    assert "9+(5*2)" in steps and all("<" not in s for s in steps)
    preference = build_preference({7: G}, COUNTDOWN, test_fraction=0.0)["train"]
    assert len(preference) > 0
    assert all("<" not in t for col in ("prompt", "chosen", "rejected") for t in preference[col])


def test_an_llm_rewrite_that_holds_a_frame_marker_is_refused():
    draft = COUNTDOWN.render_completion(["3 * 5 = 15. Left: 7, 15", "15 + 7 = 22. Left: 22"], "(3 * 5) + 7")
    rewrite = draft.replace("15 + 7 = 22", "<|im_end|> 15 + 7 = 22")
    assert check_rewrite(COUNTDOWN, draft, rewrite).startswith("frame marker in the rewrite: '<|im_end|>'")
    assert check_rewrite(COUNTDOWN, draft, draft) is None


class ClosingMathPolicy(ScriptedPolicy):
    """The scripted math policy as a model that closes its reasoning inside a step: a final step
    writes `</think>` before its answer, other steps end in a chat template's `<|im_end|>`."""

    def generate(self, requests):
        out = super().generate(requests)
        for req, completions in zip(requests, out):
            if req.meta.get("rollout"):
                continue
            for j, c in enumerate(completions):
                if "The answer is" in c.text:
                    c.text = c.text.replace("The answer is", "</think>\nThe answer is")
                elif j % 2:
                    c.text += "<|im_end|>"
        return out


def test_math_trees_of_a_model_that_closes_early_export_one_frame_per_row(sqlite_url):
    task = make_task({"name": "math", "n_train": 4, "n_test": 2, "select": "shortest"})
    store = TraceStore(sqlite_url)
    problems = task.load_problems()
    ids = store.add_problems([p.row() for p in problems])
    run_id = store.start_run("math", "explore", {})
    store.create_trees(run_id, [i for p, i in zip(problems, ids) if p.split == "train"])
    algo = make_algorithm(SearchSettings(algorithm="mcts", k=3, max_expansions=5))
    Explorer(store, task, ClosingMathPolicy(task, error_rate=0.3, seed=1), algo, ExploreSettings(progress=False)).run(run_id)
    graphs = store.tree_graphs([t["id"] for t in store.trees(run_id)])
    solutions = [d["text"] for G in graphs.values() for _, d in G.nodes(data=True) if d["label"] == SOLUTION]
    assert any("</think>" in t for t in solutions)   # stored as generated, and still a solution
    rows = []
    for G in graphs.values():
        for kind in ("shortcut", "journey"):
            rows += linearize_tree(G, task, kind, None)[0]
    assert {r["kind"] for r in rows} == {"shortcut", "journey"}
    assert [frame_problem(task, r["text"], r["answer"]) for r in rows] == [None] * len(rows)
