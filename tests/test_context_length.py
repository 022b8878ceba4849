"""Prompts that do not fit the policy's context are refused per problem, never sent: the tree ends
`failed` with the reason in its stats, and the rest of the run goes on. Real SQLite store, the
Countdown task, the scripted policy (one stand-in token per character) and the tiny random model."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from db import TraceStore
from search.algorithms import SearchSettings, make_algorithm
from search.explorer import Explorer, ExploreSettings
from search.policies import make_policy, validate_policy_config
from search.policies.base import GenerationRequest, context_overflow
from search.policies.scripted import ScriptedPolicy
from search.tasks import make_task

SHORT = {"nums": [3, 5, 7], "target": 22, "id": "short"}
# A problem 44 characters longer in its prompt (whether it can be solved does not matter: it is never sent).
LONG = {"nums": [100000, 200000, 300000, 400000, 500000, 600000], "target": 999999, "id": "long"}
LONG_PROMPT = "Numbers: 100000, 200000, 300000, 400000, 500000, 600000\nTarget: 999999\n<think>\n"
MAX_TOKENS = 16


class RecordingPolicy(ScriptedPolicy):
    """The scripted policy, keeping every request it is sent."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.sent: list[GenerationRequest] = []

    def generate(self, requests):
        self.sent.extend(requests)
        return super().generate(requests)


def _run(tmp_path, rows, context_length, **search):
    path = tmp_path / "problems.jsonl"
    path.write_text("".join(json.dumps({**r, "split": "train"}) + "\n" for r in rows))
    task = make_task({"name": "countdown", "source": "file", "path": str(path), "prompt_format": "question",
                      "only_solvable": False})
    problems = task.load_problems()
    store = TraceStore(f"sqlite:///{tmp_path / 'traces.db'}")
    ids = store.add_problems([p.row() for p in problems])
    run_id = store.start_run("t", "explore", {})
    store.create_trees(run_id, ids)
    policy = RecordingPolicy(task, error_rate=0.0, seed=1, context_length=context_length)
    algo = make_algorithm(SearchSettings(**{"algorithm": "mcts", "k": 2, "max_expansions": 4, **search}))
    summary = Explorer(store, task, policy, algo, ExploreSettings(max_tokens=MAX_TOKENS, progress=False)).run(run_id)
    names = {p.key: row["id"] for p, row in zip(problems, rows)}
    trees = {names[t["problem"]["key"]]: t for t in store.trees(run_id)}
    prompts = {names[p.key]: task.prompt(p) for p in problems}
    return store, policy, summary, trees, prompts


def test_a_problem_whose_prompt_does_not_fit_fails_alone_and_is_never_sent(tmp_path):
    limit = len(LONG_PROMPT) + MAX_TOKENS - 1
    store, policy, summary, trees, prompts = _run(tmp_path, [SHORT, LONG], limit)
    assert prompts["long"] == LONG_PROMPT                       # one token over
    long, short = trees["long"], trees["short"]
    assert long["status"] == "failed"
    assert long["stats"]["error"] == (
        f"the problem's own prompt: the prompt does not fit the policy's context: {len(prompts['long'])} prompt "
        f"tokens + {MAX_TOKENS} max_tokens = {limit + 1} > {limit}, the context length of policy 'scripted'")
    assert [r["depth"] for r in store.nodes(long["id"])] == [0]           # only its root
    assert not any(r.prompt.startswith(prompts["long"]) for r in policy.sent)
    # The rest of the run went on: the short problem was grown and solved.
    assert short["status"] == "done" and short["stats"]["solved"]
    assert (summary.trees, summary.trees_done, summary.trees_failed, summary.solved) == (2, 1, 1, 1)
    assert all(context_overflow(policy, r) is None for r in policy.sent)


def test_a_step_prompt_that_outgrows_the_context_stops_its_tree_with_the_node_named(tmp_path):
    # The root's prompt fits with its step budget; after one step (about 20 characters) it does not.
    limit = len("Numbers: 3, 5, 7\nTarget: 22\n<think>\n") + MAX_TOKENS + 5
    store, policy, summary, trees, _ = _run(tmp_path, [SHORT], limit)
    tree = trees["short"]
    assert tree["status"] == "failed"
    assert "the step prompt of node" in tree["stats"]["error"] and "(depth 1)" in tree["stats"]["error"]
    rows = store.nodes(tree["id"])
    assert {r["depth"] for r in rows} == {0, 1}            # the steps already grown are kept
    assert all(context_overflow(policy, r) is None for r in policy.sent) and policy.sent
    assert summary.trees_failed == 1


def test_rollout_prompts_are_checked_with_the_rollout_budget(tmp_path):
    # Steps fit; a rollout from a new step (200 more tokens) does not: no rollout is ever sent.
    limit = len("Numbers: 3, 5, 7\nTarget: 22\n<think>\n") + MAX_TOKENS + 60
    store, policy, summary, trees, _ = _run(tmp_path, [SHORT], limit, value="rollout", rollouts=2,
                                            rollout_max_tokens=200)
    tree = trees["short"]
    assert tree["status"] == "failed" and "the rollout prompt of node" in tree["stats"]["error"]
    assert "+ 200 max_tokens" in tree["stats"]["error"]
    assert policy.sent and not any(r.meta.get("rollout") for r in policy.sent)
    assert len(store.nodes(tree["id"])) > 1                 # the wave's steps are stored all the same
    assert summary.rollouts == 0


def test_an_unbounded_policy_sends_everything(tmp_path):
    _, policy, summary, trees, _ = _run(tmp_path, [SHORT, LONG], None)
    assert summary.trees_failed == 0 and {t["status"] for t in trees.values()} == {"done"}


def test_context_length_is_an_option_checked_before_anything_loads():
    with pytest.raises(ValueError, match=r"policy.context_length must be an integer >= 1, got 0"):
        validate_policy_config({"backend": "scripted", "context_length": 0})
    assert validate_policy_config({"backend": "openai", "base_url": "http://x/v1", "model": "m",
                                   "context_length": 4096})["context_length"] == 4096


# -- where each backend's context length comes from -----------------------------------------------

def test_hf_context_is_the_model_config_unless_lowered(tiny_model_dir):
    from search.policies.hf import HFPolicy

    assert HFPolicy(str(tiny_model_dir)).context_length == 2048        # its max_position_embeddings
    with pytest.raises(ValueError, match=r"policy.context_length=4096 is more than the 2048 positions"):
        HFPolicy(str(tiny_model_dir), context_length=4096)


def test_hf_prompts_are_counted_in_model_tokens_and_refused_before_any_compute(tmp_path, tiny_model_dir):
    task = make_task({"name": "countdown", "n_train": 2, "n_test": 0})
    problems = task.load_problems()
    policy = make_policy({"backend": "hf", "model": str(tiny_model_dir), "context_length": 64})
    tokens = len(policy.encode(task.prompt(problems[0])))
    assert tokens + MAX_TOKENS > 64                           # the few-shot prompt alone is longer
    store = TraceStore(f"sqlite:///{tmp_path / 'traces.db'}")
    run_id = store.start_run("t", "explore", {})
    store.create_trees(run_id, store.add_problems([p.row() for p in problems]))
    summary = Explorer(store, task, policy, make_algorithm(SearchSettings(algorithm="mcts", k=2, max_expansions=2)),
                       ExploreSettings(max_tokens=MAX_TOKENS, progress=False)).run(run_id)
    assert summary.trees_failed == 2 and policy.stats.calls == 0           # the model never ran
    errors = [t["stats"]["error"] for t in store.trees(run_id)]
    assert all(f"= {len(policy.encode(task.prompt(p))) + MAX_TOKENS} > 64, the context length of policy 'hf'" in e
               for p, e in zip(problems, errors))


class _Models(BaseHTTPRequestHandler):
    """`GET /v1/models` as vLLM answers it."""

    reply: dict = {}

    def do_GET(self):  # noqa: N802 - http.server's naming
        data = json.dumps(self.reply).encode()
        self.send_response(200 if self.path == "/v1/models" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("reply, option, expected", [
    ({"object": "list", "data": [{"id": "other", "max_model_len": 512}, {"id": "m", "max_model_len": 2048}]}, None, 2048),
    ({"object": "list", "data": [{"id": "m"}]}, None, None),          # a plain OpenAI server: unbounded
    ({"object": "list", "data": [{"id": "m", "max_model_len": 2048}]}, 1000, 1000),   # the option wins
])
def test_openai_context_is_the_option_or_what_the_server_reports(reply, option, expected):
    from search.policies.openai_backend import OpenAIPolicy

    handler = type("Handler", (_Models,), {"reply": reply})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        policy = OpenAIPolicy(f"http://127.0.0.1:{httpd.server_address[1]}/v1", "m", context_length=option)
        assert policy.context_length == expected
        policy.close()
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_openai_context_of_an_unreachable_server_is_unbounded():
    from search.policies.openai_backend import OpenAIPolicy

    policy = OpenAIPolicy("http://127.0.0.1:9/v1", "m", timeout=2)
    assert policy.context_length is None
    policy.close()


def test_explore_through_the_cli_finishes_the_run_and_says_which_trees_failed(tmp_path):
    import sqlite3
    import subprocess

    from tests.explore_processes import ENV, REPO, journeyforge

    db = tmp_path / "traces.db"
    done = subprocess.run(journeyforge("explore", "name=ctx", f"store.url=sqlite:///{db}", f"workdir={tmp_path}",
                                       "policy=scripted", "policy.context_length=40", "task.n_train=2", "task.n_test=0",
                                       "explore.progress=false"),
                          cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "[explore] 2 trees failed, not grown (trees.stats.error says why); the first, problem " in done.stdout
    assert "> 40, the context length of policy 'scripted'" in done.stdout
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status FROM runs WHERE name = 'ctx'").fetchone() == ("done",)
        assert conn.execute("SELECT status, COUNT(*) FROM trees GROUP BY status").fetchall() == [("failed", 2)]
    conn.close()


def test_openai_without_token_ids_asks_no_server_and_needs_the_option():
    from search.policies.openai_backend import OpenAIPolicy

    # Text prompts would need the model's tokenizer to be counted: only an explicit option limits them.
    policy = OpenAIPolicy("http://127.0.0.1:9/v1", "remote-model", vllm_extras=False)
    assert policy.context_length is None
    policy.close()
