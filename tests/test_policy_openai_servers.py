"""OpenAIPolicy with several servers (`base_url` a list): requests spread over real local HTTP
servers, a server that stops answering is skipped, and one that comes back gets requests again."""
from __future__ import annotations

import time

import pytest

from search.policies.base import GenerationRequest
from search.policies.openai_backend import OpenAIPolicy, PolicyUnavailable
from tests.test_policy_openai import VALID_BODY, ScriptedServer
from tests.vllm_helpers import free_port


@pytest.fixture
def servers():
    started: list[ScriptedServer] = []

    def start(replies=((200, VALID_BODY),)):
        started.append(ScriptedServer(list(replies)))
        return started[-1]

    yield start
    for server in started:
        try:
            server.close()
        except OSError:
            pass


def requests_(count: int) -> list[GenerationRequest]:
    return [GenerationRequest(prompt="x", prompt_token_ids=[1, 2, i], n=2, max_tokens=5, stop=("\n",))
            for i in range(count)]


def test_requests_spread_over_every_server(servers):
    a, b, c = servers(), servers(), servers()
    policy = OpenAIPolicy([a.base_url, b.base_url, c.base_url], "m")

    results = policy.generate(requests_(30))
    policy.close()

    assert [[x.text for x in r] for r in results] == [[" 2 + 2", " 8 - 3 = 5"]] * 30
    # The least busy server gets each request (ties go round): every server does a fair share.
    assert all(len(s.bodies) >= 5 for s in (a, b, c)) and sum(len(s.bodies) for s in (a, b, c)) == 30
    # Every request reached exactly one server, token ids intact.
    prompts = sorted(body["prompt"][2] for s in (a, b, c) for body in s.bodies)
    assert prompts == list(range(30))
    assert sum(policy.served.values()) == 30 and policy.stats.sequences == 60


def test_server_that_stops_answering_is_skipped_and_the_others_serve_everything(servers):
    a, b = servers(), servers()
    policy = OpenAIPolicy([a.base_url, b.base_url], "m", max_retries=4, backoff=60.0, down_seconds=300)
    policy.generate(requests_(10))
    before = len(b.bodies)
    assert len(a.bodies) >= 2 and before >= 2
    a.close()  # the first server goes away between two waves

    started = time.monotonic()
    results = policy.generate(requests_(40))
    again = policy.generate(requests_(10))
    elapsed = time.monotonic() - started
    policy.close()

    assert len(results) == 40 and len(again) == 10 and all(len(r) == 2 for r in results + again)
    assert len(b.bodies) == before + 50  # the live server answered everything
    assert policy.served[a.base_url + "/completions"] == 10 - before
    # Refused connections send requests on at once: no backoff (60 s) was waited for. The bound is far
    # from both sides (the waves take well under a second quiet, a few seconds on loaded CI cores).
    assert elapsed < 30.0
    assert policy.servers[0].failures >= 1 and policy.servers[1].failures == 0


def test_busy_server_is_skipped_while_it_rests(servers):
    busy = servers([(503, {"error": "overloaded"}), (200, VALID_BODY)])  # one 503, then answers
    ok = servers()
    policy = OpenAIPolicy([busy.base_url, ok.base_url], "m", concurrency=1, backoff=30, down_seconds=60)

    policy.generate(requests_(6))  # the first request fails over from `busy` to `ok` at once
    policy.generate(requests_(6))  # `busy` rests for 30 s: everything goes to `ok`
    policy.close()

    assert len(busy.bodies) == 1 and len(ok.bodies) == 12
    assert policy.servers[0].failures == 1


def test_rested_server_rejoins(servers):
    busy = servers([(503, {"error": "overloaded"}), (200, VALID_BODY)])
    ok = servers()
    policy = OpenAIPolicy([busy.base_url, ok.base_url], "m", concurrency=1, backoff=0.05, down_seconds=0.05)

    policy.generate(requests_(1))  # 503 from `busy`, answered by `ok`
    time.sleep(0.3)  # longer than its rest
    policy.generate(requests_(6))
    policy.close()

    assert len(busy.bodies) >= 1 + 2  # it gets its share again
    assert policy.servers[0].failures == 0  # and its success cleared the failure count


def test_every_server_down_raises_policy_unavailable_naming_each(servers):
    busy = servers([(503, {"error": "overloaded"})])
    gone = f"http://127.0.0.1:{free_port()}/v1"
    policy = OpenAIPolicy([busy.base_url, gone], "m", max_retries=2, backoff=0.01)

    with pytest.raises(PolicyUnavailable) as info:
        policy.generate(requests_(4))
    policy.close()

    message = str(info.value)
    assert busy.base_url + "/completions: HTTP 503" in message
    assert gone + "/completions: ConnectionError" in message


def test_several_base_urls_pass_the_config_checks():
    from journeyforge.cli import check_overrides

    overrides = ["policy=openai", "policy.model=m"]
    assert check_overrides([*overrides, "policy.base_url=[http://gpu1:8000/v1,http://gpu2:8000/v1]"]) is None
    assert "policy.down_seconds" in check_overrides([*overrides, "policy.down_seconds=-1"])
    with pytest.raises(ValueError, match="non-empty list of URLs"):
        OpenAIPolicy([], "m")
