"""OpenAIPolicy: retries and failure against a tiny local HTTP server, then a real `vllm serve`."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from search.policies.base import GenerationRequest
from search.policies.openai_backend import OpenAIPolicy, PolicyUnavailable
from tests.vllm_helpers import VLLMServer, countdown_prompt, free_port, needs_vllm

VALID_BODY = {
    "id": "cmpl-1",
    "object": "text_completion",
    "model": "m",
    "choices": [
        {"index": 1, "text": " 8 - 3 = 5\n", "token_ids": [30, 31, 198], "finish_reason": "stop",
         "logprobs": {"tokens": ["a", "b", "c"], "token_logprobs": [-0.5, -0.25, -0.25]}},
        {"index": 0, "text": " 2 + 2", "token_ids": [40, 41], "finish_reason": "length",
         "logprobs": {"tokens": ["a", "b"], "token_logprobs": [-1.0, -2.0]}},
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10,
              "prompt_tokens_details": {"cached_tokens": 4}},
}


class _Listener(ThreadingHTTPServer):
    # socketserver's default backlog is 5: with dozens of requests in flight on a loaded machine the
    # kernel resets connections beyond it, and a live server would look down to the policy.
    request_queue_size = 256
    daemon_threads = True


class ScriptedServer:
    """An HTTP server that answers POSTs with a fixed list of (status, body) and records the bodies."""

    def __init__(self, replies: list[tuple[int, dict]], delay=None) -> None:
        self.replies = list(replies)
        self.delay = delay   # body -> seconds to wait before replying (None: reply at once)
        self.bodies: list[dict] = []
        self.times: list[float] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.bodies.append(body)
                outer.times.append(time.monotonic())
                if outer.delay is not None:
                    time.sleep(outer.delay(body))
                status, reply = outer.replies.pop(0) if len(outer.replies) > 1 else outer.replies[0]
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = _Listener(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def scripted():
    servers: list[ScriptedServer] = []

    def start(replies, delay=None):
        servers.append(ScriptedServer(replies, delay))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def test_retries_server_errors_with_backoff_then_returns_completions(scripted):
    server = scripted([(500, {"error": "busy"}), (500, {"error": "busy"}), (200, VALID_BODY)])
    policy = OpenAIPolicy(server.base_url, "m", max_retries=4, backoff=0.1)
    request = GenerationRequest(prompt="ignored", prompt_token_ids=[1, 2, 3], n=2, max_tokens=5, stop=("\n",), seed=3)

    [completions] = policy.generate([request])
    policy.close()

    assert len(server.bodies) == 3
    gaps = [b - a for a, b in zip(server.times, server.times[1:])]
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2  # exponential: backoff, then 2 * backoff
    body = server.bodies[-1]
    assert body["prompt"] == [1, 2, 3]  # token ids go as-is, never re-encoded
    assert body["n"] == 2 and body["max_tokens"] == 5 and body["stop"] == ["\n"] and body["seed"] == 3
    assert body["logprobs"] == 1 and body["return_token_ids"] is True
    # Choices come back in index order; text is cut before the stop string, ids keep it.
    assert [c.text for c in completions] == [" 2 + 2", " 8 - 3 = 5"]
    assert [c.token_ids for c in completions] == [[40, 41], [30, 31, 198]]
    assert [c.logprob for c in completions] == [-3.0, -1.0]
    assert [c.finish_reason for c in completions] == ["length", "stop"]
    assert (policy.stats.prompt_tokens, policy.stats.generated_tokens, policy.stats.cached_tokens) == (5, 5, 4)
    assert policy.stats.sequences == 2 and policy.stats.calls == 1


def test_server_that_keeps_failing_raises_policy_unavailable_naming_url(scripted):
    server = scripted([(503, {"error": "overloaded"})])
    policy = OpenAIPolicy(server.base_url, "m", max_retries=2, backoff=0.01)

    with pytest.raises(PolicyUnavailable, match=server.base_url + "/completions") as info:
        policy.generate([GenerationRequest(prompt="x", n=1)])
    policy.close()

    assert len(server.bodies) == 3
    assert "HTTP 503" in str(info.value)


def test_every_request_makes_its_first_attempt_even_while_the_server_rests(scripted):
    # Requests that start after another one's failure find the server resting; that must not use up
    # one of their retries before they have tried at all (the error said "after 1 attempts").
    server = scripted([(503, {"error": "overloaded"})])
    policy = OpenAIPolicy(server.base_url, "m", max_retries=1, backoff=0.2, concurrency=16)

    with pytest.raises(PolicyUnavailable, match="after 2 attempts"):
        policy.generate([GenerationRequest(prompt=f"x{i}", n=1) for i in range(16)])
    policy.close()

    first_tries = {body["prompt"] for body in server.bodies}
    assert first_tries == {f"x{i}" for i in range(16)}  # none was given up before its first attempt


def test_nobody_listening_raises_policy_unavailable_within_retry_budget():
    url = f"http://127.0.0.1:{free_port()}/v1"
    policy = OpenAIPolicy(url, "m", max_retries=3, backoff=0.05)
    started = time.monotonic()

    with pytest.raises(PolicyUnavailable, match="127.0.0.1"):
        policy.generate([GenerationRequest(prompt="x", n=1) for _ in range(8)])
    policy.close()

    assert time.monotonic() - started < 0.05 * (1 + 2 + 4) + 10  # slack for loaded CI cores


def test_client_error_is_not_retried_and_names_the_server_reply(scripted):
    server = scripted([(400, {"error": "max_tokens too large"})])
    policy = OpenAIPolicy(server.base_url, "m", max_retries=4, backoff=0.01)

    with pytest.raises(ValueError, match="max_tokens too large"):
        policy.generate([GenerationRequest(prompt="x", n=1)])
    policy.close()

    assert len(server.bodies) == 1


def test_plain_openai_server_gets_no_vllm_fields_and_text_prompt(scripted):
    server = scripted([(200, VALID_BODY)])
    policy = OpenAIPolicy(server.base_url, "m", vllm_extras=False, extra_body={"user": "journeyforge"})

    policy.generate([GenerationRequest(prompt="Numbers: 1 2", n=2)])
    policy.close()

    body = server.bodies[0]
    assert body["prompt"] == "Numbers: 1 2"
    assert "return_token_ids" not in body and "include_stop_str_in_output" not in body and "seed" not in body
    assert body["user"] == "journeyforge"


def test_seeds_false_leaves_the_sampling_seed_out(scripted):
    # a vLLM server on CPU dies on a batch of seeded requests; `seeds=False` is the way to use one
    server = scripted([(200, VALID_BODY)])
    policy = OpenAIPolicy(server.base_url, "m", seeds=False)

    policy.generate([GenerationRequest(prompt="p", prompt_token_ids=[1, 2], n=2, max_tokens=5, seed=7),
                     GenerationRequest(prompt="p", prompt_token_ids=[1, 2], n=2, max_tokens=5, seed=None)])
    policy.close()

    assert len(server.bodies) == 2 and all("seed" not in body for body in server.bodies)
    assert all(body["return_token_ids"] is True for body in server.bodies)  # everything else as before


@pytest.fixture(scope="module")
def vllm_server(default_model_dir, tmp_path_factory):
    server = VLLMServer(default_model_dir, tmp_path_factory.mktemp("vllm-serve") / "server.log")
    yield server
    server.stop()


@needs_vllm
@pytest.mark.slow
def test_explore_against_vllm_serve_with_only_the_readme_options_grows_trees(vllm_server, default_model_dir, tmp_path):
    """No tokenizer on this side and no hub (HF_HUB_OFFLINE=1): the served name `smollm2` is no folder and
    no hub id; the prompts' tokens come from vLLM's /tokenize. Runs before the test that stops the server."""
    import sqlite3

    from tests.test_policy_openai_tokens import MESSAGES, explore_cli

    done, db = explore_cli(tmp_path, "policy=openai", f"policy.base_url={vllm_server.base_url}",
                           f"policy.model={vllm_server.model_name}", "policy.seeds=false")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stdout + done.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status FROM runs WHERE name = 'served'").fetchone() == ("done",)
        assert conn.execute("SELECT status, COUNT(*) FROM trees GROUP BY status").fetchall() == [("done", 2)]
        assert conn.execute("SELECT COUNT(*) FROM nodes WHERE parent_id IS NOT NULL").fetchone()[0] > 0
    conn.close()
    # The server's tokens are the model's own, chat template included (/tokenize with messages, /detokenize).
    from transformers import AutoTokenizer

    reference = AutoTokenizer.from_pretrained(default_model_dir)
    policy = OpenAIPolicy(vllm_server.base_url, vllm_server.model_name, seeds=False)
    try:
        assert policy.encode("Numbers: 3 5 8\n") == reference.encode("Numbers: 3 5 8\n", add_special_tokens=False)
        assert policy.render_chat(MESSAGES) == reference.apply_chat_template(MESSAGES, tokenize=False,
                                                                             add_generation_prompt=True)
        assert policy.tokens.source == "server"
    finally:
        policy.close()


@needs_vllm
@pytest.mark.slow
def test_vllm_serve_returns_token_ids_then_dead_server_raises_policy_unavailable(vllm_server, default_model_dir):
    policy = OpenAIPolicy(vllm_server.base_url, vllm_server.model_name, tokenizer=str(default_model_dir),
                          max_retries=2, backoff=0.2, timeout=120)
    prompt_ids = policy.encode(countdown_prompt("2 4 9", 17))
    requests = [
        GenerationRequest(prompt="", prompt_token_ids=prompt_ids, n=2, max_tokens=24, stop=("\n",), seed=1),
        GenerationRequest(prompt="", prompt_token_ids=prompt_ids, n=1, max_tokens=3, stop=(), seed=2),
    ]

    first, second = policy.generate(requests)

    assert len(first) == 2 and len(second) == 1
    for c in first:
        assert c.token_ids and c.logprob < 0
        if c.finish_reason == "stop" and c.token_ids[-1] not in policy.tokenizer.all_special_ids:
            assert policy.tokenizer.decode(c.token_ids).startswith(c.text + "\n")
    assert second[0].finish_reason == "length" and len(second[0].token_ids) == 3
    assert policy.stats.prompt_tokens == 2 * len(prompt_ids)

    vllm_server.stop()
    started = time.monotonic()
    with pytest.raises(PolicyUnavailable, match=vllm_server.base_url):
        policy.generate(requests)
    assert time.monotonic() - started < 0.2 * (1 + 2) + 15  # slack for loaded CI cores
    policy.close()


def test_submit_hands_each_request_back_when_its_reply_is_in(scripted):
    # explore.continuous: a fast reply is not held back by a slow one sent beside it.
    server = scripted([(200, VALID_BODY)], delay=lambda body: 1.0 if body["prompt"] == "slow" else 0.0)
    policy = OpenAIPolicy(server.base_url, "m", seeds=False)
    try:
        assert policy.continuous
        slow, fast = policy.submit([GenerationRequest(prompt=p, n=2, max_tokens=5, stop=("\n",))
                                    for p in ("slow", "fast")])
        assert [c.text for c in fast.result(timeout=5)] == [" 2 + 2", " 8 - 3 = 5"] and not slow.done()
        assert len(slow.result(timeout=5)) == 2
        assert policy.stats.requests == 2 and policy.stats.sequences == 4
    finally:
        policy.close()
