"""The `openai` backend without a model hub: the served model's tokens come from the server's /tokenize
(vLLM's routes) or from `policy.tokenizer`; with neither, one line at config time; and a server that
fails mid-run leaves no tree `running`. Served by a real model (tests/openai_model_server.py)."""
from __future__ import annotations

import sqlite3
import subprocess

import pytest

from search.explorer import Explorer, ExploreSettings
from search.policies.base import PolicyUnavailable
from search.policies.openai_backend import OpenAIPolicy
from search.policies.openai_tokens import NoTokenizer
from tests.explore_processes import ENV, REPO, journeyforge
from tests.openai_model_server import ModelServer
from tests.vllm_helpers import countdown_run, free_port

MESSAGES = [{"role": "user", "content": "Reach 24 with 3 5 8."}]


@pytest.fixture(scope="module")
def model_server(default_model_dir):
    server = ModelServer(default_model_dir)   # vLLM's /tokenize and /detokenize
    yield server
    server.close()


@pytest.fixture(scope="module")
def plain_server(default_model_dir):
    server = ModelServer(default_model_dir, tokenize=False)   # a plain OpenAI server: no /tokenize
    yield server
    server.close()


def test_tokens_come_from_the_servers_tokenize_without_a_local_tokenizer(model_server, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    before = model_server.counts.get("/tokenize", 0)
    policy = OpenAIPolicy(model_server.base_url, "smollm2")   # a served name no hub or folder knows
    try:
        text = "Numbers: 3 5 8\nTarget: 24\n<think>\n"
        ids = policy.encode(text)
        chat = policy.render_chat(MESSAGES)
    finally:
        policy.close()

    reference = model_server.tokenizer   # the server's own tokenizer, never loaded by the policy
    assert ids == reference.encode(text, add_special_tokens=False)
    assert chat == reference.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
    assert "<|im_start|>assistant" in chat   # the chat template, special tokens kept through /detokenize
    assert policy.tokens.source == "server" and policy.tokenizer is None
    assert model_server.counts["/tokenize"] - before == 3   # the probe, the text, the chat messages


def test_policy_tokenizer_folder_serves_a_server_without_tokenize(plain_server, default_model_dir):
    policy = OpenAIPolicy(plain_server.base_url, "smollm2", tokenizer=str(default_model_dir))
    try:
        ids = policy.encode("Target: 24\n")
    finally:
        policy.close()
    assert policy.tokens.source == "local" and ids == plain_server.tokenizer.encode("Target: 24\n")
    assert "/tokenize" not in plain_server.counts   # the folder wins: the server is not asked


def test_neither_tokenize_nor_policy_tokenizer_is_one_line_naming_both(plain_server):
    policy = OpenAIPolicy(plain_server.base_url, "smollm2")
    with pytest.raises(NoTokenizer) as info:
        policy.encode("x")
    policy.close()
    line = str(info.value)
    assert "\n" not in line and "policy.tokenizer=DIR" in line and "/tokenize" in line
    assert f"{plain_server.root}/tokenize answered HTTP 404" in line


def test_a_server_down_at_start_says_so_and_names_policy_tokenizer():
    policy = OpenAIPolicy(f"http://127.0.0.1:{free_port()}/v1", "smollm2")
    with pytest.raises(PolicyUnavailable, match=r"unavailable \(ConnectionError\).*or set policy.tokenizer=DIR"):
        policy.encode("x")
    policy.close()


@pytest.mark.parametrize("fail_path", ["/tokenize", "/v1/completions"])
def test_a_server_failing_mid_run_leaves_no_tree_running(default_model_dir, tmp_path, fail_path):
    # /tokenize answers the policy's probe, then fails as the explorer loads its first trees (the
    # prompts' tokens): the trees it had claimed go back. /v1/completions fails after a wave.
    server = ModelServer(default_model_dir)
    server.fail_after(fail_path, 1)
    task, store, run_id, algo = countdown_run(f"sqlite:///{tmp_path / 'fails.db'}", n_problems=3)
    policy = OpenAIPolicy(server.base_url, "smollm2", max_retries=1, backoff=0.01, seeds=False)
    try:
        with pytest.raises(PolicyUnavailable, match="start the server again and re-run to resume"):
            Explorer(store, task, policy, algo, ExploreSettings(max_active_trees=2, progress=False)).run(run_id)
    finally:
        policy.close()
        server.close()
    statuses = [t["status"] for t in store.trees(run_id)]
    assert "running" not in statuses and len(statuses) == 3
    assert all(t["claimed_by"] is None for t in store.trees(run_id) if t["status"] == "pending")


def explore_cli(tmp_path, *overrides: str) -> tuple[subprocess.CompletedProcess, str]:
    """`journeyforge explore` of two Countdown trees as a user types it, with no model hub (HF_HUB_OFFLINE=1)."""
    db = tmp_path / "traces.db"
    done = subprocess.run(journeyforge("explore", "name=served", f"store.url=sqlite:///{db}", f"workdir={tmp_path}",
                                       "task.n_train=2", "task.n_test=0", "search.max_expansions=2",
                                       "explore.progress=false", *overrides),
                          cwd=REPO, env={**ENV, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True, timeout=600)
    return done, str(db)


@pytest.mark.parametrize("server, options", [("model_server", []), ("plain_server", ["tokenizer"])])
def test_explore_against_a_served_model_grows_trees_with_the_readme_options(request, tmp_path, default_model_dir,
                                                                           server, options):
    served = request.getfixturevalue(server)
    extra = [f"policy.tokenizer={default_model_dir}"] if options else []
    done, db = explore_cli(tmp_path, "policy=openai", f"policy.base_url={served.base_url}", "policy.model=smollm2",
                        *extra)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stdout + done.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status FROM runs WHERE name = 'served'").fetchone() == ("done",)
        assert conn.execute("SELECT status, COUNT(*) FROM trees GROUP BY status").fetchall() == [("done", 2)]
        assert conn.execute("SELECT COUNT(*) FROM nodes WHERE parent_id IS NOT NULL").fetchone()[0] > 0
    conn.close()


def test_explore_without_any_tokenizer_stops_at_config_time_writing_nothing(plain_server, tmp_path):
    done, db = explore_cli(tmp_path, "policy=openai", f"policy.base_url={plain_server.base_url}",
                           "policy.model=smollm2")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "policy.tokenizer=DIR" in line and "/tokenize answered HTTP 404" in line
    assert not list(tmp_path.glob("traces.db*"))   # config time: the store was never opened


def test_policy_tokenizer_is_an_option_of_the_config_and_checked_there(tmp_path):
    from journeyforge.overrides import check_overrides

    base = ["policy=openai", "policy.model=m", "policy.base_url=http://127.0.0.1:9/v1"]
    assert check_overrides([*base, f"policy.tokenizer={REPO}/journeyforge"]) == (
        f"policy.tokenizer={REPO}/journeyforge: the folder {REPO}/journeyforge holds no tokenizer "
        "(none of tokenizer.json, tokenizer_config.json, tokenizer.model, vocab.json)")
    assert "no such folder" in check_overrides([*base, f"policy.tokenizer={tmp_path}/none"])
