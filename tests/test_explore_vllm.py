"""The explorer through the `vllm` and `openai` backends: real engine, real `vllm serve`, real SQLite.

Token prompts: the explorer sends each expansion as the root prompt's ids + the step ids of every
node on the path, so the prompts the policy received must be rebuilt exactly from the stored rows.
One engine per class (started once; closed before the server class starts, to keep the 2-core box
from running both); the server dies and is replaced inside the failure test.
"""
from __future__ import annotations

import pytest

from search.explorer import Explorer, ExploreSettings
from search.policies.base import PolicyUnavailable
from tests.vllm_helpers import RecordingPolicy, VLLMServer, countdown_run, expected_prompt_ids, needs_vllm

pytestmark = [needs_vllm, pytest.mark.slow]

SETTINGS = dict(progress=False, max_tokens=24, temperature=1.0)


def _assert_token_exact(store, run_id, task, policy, recorded):
    """Every node has step ids; every prompt the policy got is a stored node's path, token for token,
    and each is its parent's prompt + the node's own step ids."""
    rows = [r for t in store.trees(run_id) for r in store.nodes(t["id"])]
    steps = [r for r in rows if r["parent_id"] is not None]
    assert steps and all(r["token_ids"] for r in steps)
    by_prompt = expected_prompt_ids(store, run_id, task, policy.encode)
    prompt_of = {node: ids for ids, (_, node) in by_prompt.items()}
    parent_of = {r["id"]: r["parent_id"] for r in rows}
    step_ids = {r["id"]: r["token_ids"] for r in rows}
    for request in recorded:
        ids = tuple(request.prompt_token_ids)
        assert ids in by_prompt, "the explorer sent a prompt that is not a stored node's path"
        _, node = by_prompt[ids]
        if parent_of[node] is not None:
            assert ids == prompt_of[parent_of[node]] + tuple(step_ids[node])
    # Every expanded node (one with children) was prompted.
    sent = {tuple(r.prompt_token_ids) for r in recorded}
    for r in steps:
        assert prompt_of[r["parent_id"]] in sent


def _check_integrity(store, run_id):
    for t in store.trees(run_id):
        rows = store.nodes(t["id"])
        assert [r["seq"] for r in rows] == list(range(len(rows)))  # no gap, no duplicate
        assert sum(r["parent_id"] is None for r in rows) == 1


# Class scope: the engine is closed when its class is done, before the server class starts one.
@pytest.fixture(scope="class")
def engine(default_model_dir):
    from search.policies.vllm_backend import VLLMPolicy

    policy = VLLMPolicy(str(default_model_dir), seed=0, max_model_len=1024)
    yield policy
    policy.close()


@pytest.fixture(scope="class")
def server(default_model_dir, tmp_path_factory):
    server = VLLMServer(default_model_dir, tmp_path_factory.mktemp("serve") / "vllm-serve.log")
    yield server
    server.stop()


class TestVLLMBackend:
    def test_explorer_sends_token_exact_prompts_and_hits_the_prefix_cache(self, engine, tmp_path):
        task, store, run_id, algo = countdown_run(f"sqlite:///{tmp_path / 'vllm.db'}")
        policy = RecordingPolicy(engine)
        cached_before = engine.stats.cached_tokens

        summary = Explorer(store, task, policy, algo, ExploreSettings(**SETTINGS)).run(run_id)

        assert summary.trees_done == 3 and all(t["status"] == "done" for t in store.trees(run_id))
        assert summary.nodes > 3
        assert all(r.prompt_token_ids is not None for r in policy.requests)
        _assert_token_exact(store, run_id, task, engine, policy.requests)
        # Trees share the few-shot header and children share their parent's path: cache hits.
        assert engine.stats.cached_tokens - cached_before > 0
        _check_integrity(store, run_id)

    def test_continuous_explorer_through_the_engine_is_token_exact(self, engine, tmp_path):
        # explore.continuous: each tree's next expansion joins the engine's running batch as soon as
        # its last one is back (the engine's stepping thread), instead of waiting for a whole wave.
        task, store, run_id, algo = countdown_run(f"sqlite:///{tmp_path / 'vllm.db'}")
        policy = RecordingPolicy(engine)

        summary = Explorer(store, task, policy, algo, ExploreSettings(**SETTINGS, continuous=True)).run(run_id)

        assert summary.trees_done == 3 and all(t["status"] == "done" for t in store.trees(run_id))
        assert policy.calls == 0 and policy.requests   # everything went through submit
        _assert_token_exact(store, run_id, task, engine, policy.requests)
        _check_integrity(store, run_id)


class TestOpenAIBackend:
    @staticmethod
    def _policy(server, default_model_dir):
        from search.policies.openai_backend import OpenAIPolicy

        return OpenAIPolicy(server.base_url, server.model_name, tokenizer=str(default_model_dir),
                            max_retries=1, backoff=0.1, timeout=120)

    def test_explorer_through_vllm_serve_is_token_exact(self, server, default_model_dir, tmp_path):
        task, store, run_id, algo = countdown_run(f"sqlite:///{tmp_path / 'openai.db'}")
        inner = self._policy(server, default_model_dir)
        policy = RecordingPolicy(inner)
        try:
            summary = Explorer(store, task, policy, algo, ExploreSettings(**SETTINGS)).run(run_id)
        finally:
            inner.close()

        assert summary.trees_done == 3 and summary.nodes > 3
        assert all(r.prompt_token_ids is not None for r in policy.requests)
        _assert_token_exact(store, run_id, task, inner, policy.requests)
        assert inner.stats.cached_tokens > 0  # --enable-prompt-tokens-details reports prefix hits
        _check_integrity(store, run_id)

    def test_server_death_raises_policy_unavailable_and_a_fresh_server_resumes(
        self, server, default_model_dir, tmp_path, tmp_path_factory
    ):
        task, store, run_id, algo = countdown_run(f"sqlite:///{tmp_path / 'dies.db'}", max_expansions=4)
        stored_before_death: dict[int, list[tuple]] = {}

        def kill_before_third_wave(call):
            if call == 2:
                for t in store.trees(run_id):
                    stored_before_death[t["id"]] = [(r["id"], r["seq"], r["text"]) for r in store.nodes(t["id"])]
                server.stop()

        inner = self._policy(server, default_model_dir)
        policy = RecordingPolicy(inner, before_call=kill_before_third_wave)
        with pytest.raises(PolicyUnavailable, match=r"unavailable after 2 attempts.*re-run to resume"):
            try:
                Explorer(store, task, policy, algo, ExploreSettings(**SETTINGS)).run(run_id)
            finally:
                inner.close()

        assert policy.calls == 3
        trees = store.trees(run_id)
        assert [t["status"] for t in trees] == ["pending"] * 3     # released, not left to lease expiry
        assert all(t["claimed_by"] is None for t in trees)
        # The two finished waves are stored: a root and two waves of children per tree. With
        # overlapped writes (the default) the second may still have been committing when the hook
        # looked; the explorer waits for it before it stops, so it is stored too, after what was there.
        stored_after_death: dict[int, list[tuple]] = {}
        for t in trees:
            rows = [(r["id"], r["seq"], r["text"]) for r in store.nodes(t["id"])]
            before = stored_before_death[t["id"]]
            assert rows[: len(before)] == before and len(rows) > 1
            stored_after_death[t["id"]] = rows

        fresh = VLLMServer(default_model_dir, tmp_path_factory.mktemp("serve2") / "vllm-serve.log")
        try:
            inner = self._policy(fresh, default_model_dir)
            resumed = RecordingPolicy(inner)
            summary = Explorer(store, task, resumed, algo, ExploreSettings(**SETTINGS)).run(run_id)
            inner.close()
        finally:
            fresh.stop()

        assert summary.trees_done == 3 and all(t["status"] == "done" for t in store.trees(run_id))
        grown = 0
        for t in store.trees(run_id):
            rows = store.nodes(t["id"])
            before = stored_after_death[t["id"]]
            assert [(r["id"], r["seq"], r["text"]) for r in rows[: len(before)]] == before  # nothing lost
            grown += len(rows) - len(before)
            assert t["stats"]["expansions"] <= 4
        assert grown == summary.nodes > 0   # nothing written twice
        _check_integrity(store, run_id)
        _assert_token_exact(store, run_id, task, inner, policy.requests + resumed.requests)
