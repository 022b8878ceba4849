"""The `llm` reflection style (rewrite check, fallback with a real model) and matched linearize sets."""
from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir

from db import TraceStore
from journeyforge.cli import CONF_DIR
from journeyforge.stages import explore as explore_stage
from journeyforge.stages import linearize as linearize_stage
from search.policies import GenerationRequest
from search.policies.hf import HFPolicy
from search.tasks.countdown.answer import ANSWER_CLOSE
from search.tasks.countdown.equations import equations
from tests.linearize_trees import countdown_task, tree_1357
from traces.linearize import linearize_tree
from traces.llm_reflection import RewriteConfig, accept_rewrite, check_rewrite, rewrite_journeys

TASK = countdown_task()

# [3, 5, 7] -> 15 with one wrong trial (an arithmetic error), as the template style drafts it.
ANSWER = "(3 + 5) + 7"
DRAFT = TASK.render_completion([
    "3 + 5 = 8. Left: 7, 8",
    "8 * 7 = 54. Left: 54",
    "Wait, 8 * 7 is 56, not 54. That step is wrong.",
    "Let me go back to 7, 8.",
    "8 + 7 = 15. Left: 15",
], ANSWER)


def _rewrite(body: str, answer: str = ANSWER) -> str:
    return f"<think>\n{body}\n</think>\n<answer>{answer}</answer>"


KEEPS_ALL = _rewrite(
    "First I add 3 + 5 = 8, which leaves 7 and 8. Then I try 8 * 7 = 54, leaving just 54. "
    "Hmm, that multiplication is off: eight sevens make 56, so I made an error. "
    "I'll return to 7 and 8 and add instead: 8 + 7 = 15, which is the target."
)


def test_equations_are_read_in_order_with_unicode_operators():
    assert equations("so 3 \u00d7 4 = 12, then 12 \u2212 2 = 10 and 10 / 4 = 2.5") == [
        "3 * 4 = 12", "12 - 2 = 10", "10 / 4 = 5/2"]
    assert equations(DRAFT) == ["3 + 5 = 8", "8 * 7 = 54", "8 + 7 = 15"]


def test_rewrite_that_keeps_every_equation_and_the_answer_is_accepted():
    assert check_rewrite(TASK, DRAFT, KEEPS_ALL) is None


def test_rewrite_may_restate_a_draft_equation_but_not_invent_one():
    restated = KEEPS_ALL.replace("so I made an error.", "so 8 * 7 = 54 was an error.")
    assert check_rewrite(TASK, DRAFT, restated) is None


@pytest.mark.parametrize("rewrite, category", [
    (KEEPS_ALL.replace("Then I try 8 * 7 = 54, leaving just 54. ", ""), "equation dropped"),
    (KEEPS_ALL.replace("8 * 7 = 54", "8 * 7 = 56"), "equation added"),
    (KEEPS_ALL.replace("eight sevens make 56", "8 * 7 = 56"), "equation added"),
    (_rewrite("I try 8 * 7 = 54 first. Then 3 + 5 = 8 and 8 + 7 = 15."), "equation dropped, changed or reordered"),
    (_rewrite(KEEPS_ALL.split("\n")[1], answer="3 + (5 + 7)"), "answer changed"),
    (KEEPS_ALL.replace("<think>", ""), "no complete think block"),
])
def test_rewrite_that_loses_or_invents_a_fact_is_rejected(rewrite, category):
    problem = check_rewrite(TASK, DRAFT, rewrite)
    assert problem is not None and problem.startswith(category), problem


def test_accepted_rewrite_replaces_the_think_block_and_records_the_style():
    [draft], _ = linearize_tree(tree_1357(), countdown_task(), "journey", {"select": "plausible"})
    body = "  ".join(draft["lines"]) + "\n\nSo the target is reached."
    rewrite = f"<think>\n{body}\n</think>\n<answer>{draft['answer']}</answer>"
    assert check_rewrite(TASK, draft["text"], rewrite) is None
    row = accept_rewrite(TASK, draft, rewrite)
    assert row["text"] == TASK.render_completion(["  ".join(draft["lines"]), "So the target is reached."], draft["answer"])
    assert row["messages"][-1] == {"role": "assistant", "content": row["text"], "reflection": "llm"}
    assert row["messages"][0] == draft["messages"][0] and draft["messages"][-1]["content"] == draft["text"]


def test_random_tiny_model_rewrites_fail_the_check_in_one_batched_call(tiny_model_dir):
    task = countdown_task()
    drafts = []
    for select in ("plausible", "random", "invalid"):
        [row], _ = linearize_tree(tree_1357(), task, "journey", {"select": select})
        drafts.append(row)
    policy = HFPolicy(str(tiny_model_dir), seed=0)
    calls = []

    def complete(prompts):
        calls.append(len(prompts))
        reqs = [GenerationRequest(prompt=p, max_tokens=12, stop=(ANSWER_CLOSE,), temperature=1.0) for p in prompts]
        return [samples[0].text for samples in policy.generate(reqs)]

    rows, stats = rewrite_journeys(task, drafts, complete, RewriteConfig(max_tokens=12), render_chat=policy.render_chat)
    assert calls == [3]
    assert (stats.ok, stats.failed) == (0, 3) and sum(stats.reasons.values()) == 3
    assert [r["text"] for r in rows] == [d["text"] for d in drafts]
    assert all(r["messages"][-1]["reflection"] == "template" and r["messages"][-1]["rewrite_rejected"] for r in rows)


def _config(tmp_path, url, *overrides):
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        return compose("config", overrides=[
            "name=t", f"workdir={tmp_path}", f"store.url={url}", "policy=scripted", "policy.error_rate=0.25",
            "task.n_train=8", "task.n_test=2", "search.max_expansions=6", "search.k=3",
            "explore.progress=false",
            # O1-Journey's recipe (every journey backtracks, no checks), which these tests' drafts assume.
            "linearize.journey.backtracks=null", "linearize.journey.checks=0", *overrides])


def _trees_by_kind(store, run_id):
    out = {}
    for t in store.trajectories(run_id=run_id):
        out.setdefault(t["kind"], set()).add(t["tree_id"])
    return out


def test_matched_sets_keep_only_trees_every_kind_linearized(tmp_path, sqlite_url):
    explore_stage.run(_config(tmp_path, sqlite_url))
    # Journeys of dead ends only: some solved trees have none, so matching has trees to drop.
    rare = "linearize.journey.select=dead_end"
    loose = linearize_stage.run(_config(tmp_path, sqlite_url, rare, "linearize.matched=false"))
    store = TraceStore(sqlite_url)
    try:
        before = _trees_by_kind(store, loose["run_id"])
        assert set(before) == {"shortcut", "journey", "stream"}
        partial = set.union(*before.values()) - set.intersection(*before.values())
        assert partial, "the explored trees must include some without a journey for this test to mean anything"
        summary = linearize_stage.run(_config(tmp_path, sqlite_url, rare))
        after = _trees_by_kind(store, summary["run_id"])
        assert summary["matched"] is True and summary["dropped_for_matching"] == len(partial)
        assert after["shortcut"] == after["journey"] == after["stream"] == set.intersection(*before.values())
        stored = store.trajectories(run_id=summary["run_id"], kind="journey")
        assert all(t["messages"][-1]["reflection"] == "template" for t in stored)
    finally:
        store.close()


def test_llm_reflections_from_a_random_model_fall_back_to_the_stored_template_draft(tmp_path, sqlite_url,
                                                                                   tiny_model_dir):
    explore_stage.run(_config(tmp_path, sqlite_url))
    cfg = _config(tmp_path, sqlite_url, "linearize=journey", "linearize.journey.reflection=llm",
                  f"linearize.rewrite.model={tiny_model_dir}", "linearize.rewrite.max_tokens=12")
    summary = linearize_stage.run(cfg)
    store = TraceStore(sqlite_url)
    try:
        stored = store.trajectories(run_id=summary["run_id"], kind="journey")
        assert stored and summary["reflection"] == "llm"
        assert (summary["rewrites_ok"], summary["rewrites_failed"]) == (0, len(stored))
        task = countdown_task()
        for t in stored:
            [draft], _ = linearize_tree(store.tree(t["tree_id"]), task, "journey", {"reflection": "template"})
            assert t["text"] == draft["text"]
            assert t["messages"][-1]["reflection"] == "template" and t["messages"][-1]["rewrite_rejected"]
    finally:
        store.close()
