"""Shared pieces of the vLLM backend tests: the skip marker, a few-shot prompt, a `vllm serve` runner."""
from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

VLLM_MISSING = importlib.util.find_spec("vllm") is None
needs_vllm = pytest.mark.skipif(
    VLLM_MISSING,
    reason="vllm is not importable in this environment: run scripts/install_vllm.sh PATH/TO/python first",
)

# Countdown-style few-shot header: long enough (> one 128-token CPU KV block) for prefix-cache hits.
FEW_SHOT = (
    "Use the numbers and + - * / to reach the target. Write one step per line.\n\n"
    "Numbers: 3 5 7\nTarget: 22\nStep 1: 3 * 5 = 15\nStep 2: 15 + 7 = 22\nAnswer: 22\n\n"
    "Numbers: 4 6 10\nTarget: 34\nStep 1: 4 * 6 = 24\nStep 2: 24 + 10 = 34\nAnswer: 34\n\n"
    "Numbers: 2 8 9\nTarget: 25\nStep 1: 2 * 8 = 16\nStep 2: 16 + 9 = 25\nAnswer: 25\n\n"
    "Numbers: 12 3 5\nTarget: 9\nStep 1: 12 / 3 = 4\nStep 2: 4 + 5 = 9\nAnswer: 9\n\n"
    "Numbers: 7 7 2\nTarget: 47\nStep 1: 7 * 7 = 49\nStep 2: 49 - 2 = 47\nAnswer: 47\n\n"
)


def countdown_prompt(numbers: str, target: int) -> str:
    """The few-shot header followed by a new problem, ready for "Step 1:"."""
    return f"{FEW_SHOT}Numbers: {numbers}\nTarget: {target}\nStep 1:"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class VLLMServer:
    """A `vllm serve` subprocess on 127.0.0.1, in its own process group so it can be stopped whole."""

    def __init__(self, model: Path, log_path: Path, startup_timeout: float = 400) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.model_name = "smollm2"
        env = dict(os.environ, VLLM_CPU_KVCACHE_SPACE="2", ONEDNN_MAX_CPU_ISA="AVX512_CORE_BF16")
        self.log = open(log_path, "wb")
        # `vllm serve` is `vllm.entrypoints.cli.main`, which asks importlib.metadata for the
        # version of distribution "vllm"; the CPU build is distributed as "vllm-cpu", so that CLI
        # dies with PackageNotFoundError. The api_server module is the same server without it.
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model),
                "--host", "127.0.0.1", "--port", str(self.port),
                "--served-model-name", self.model_name,
                "--dtype", "float32", "--enforce-eager", "--max-model-len", "1024", "--seed", "0",
                "--enable-prompt-tokens-details",
            ],
            stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
        self._wait_healthy(startup_timeout, log_path)

    def _wait_healthy(self, timeout: float, log_path: Path) -> None:
        deadline = time.monotonic() + timeout
        health = f"http://127.0.0.1:{self.port}/health"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"vllm serve exited with {self.proc.returncode}; see {log_path}")
            try:
                if requests.get(health, timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(2)
        self.stop()
        raise TimeoutError(f"vllm serve on port {self.port} not healthy after {timeout}s; see {log_path}")

    def stop(self) -> None:
        """SIGTERM the server's process group, SIGKILL it if it lingers."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        self.log.close()


class RecordingPolicy:
    """A real policy seen through a window: records every request the explorer sends, in order,
    and calls `before_call(i)` before the i-th `generate` (0-based) so a test can act mid-run."""

    def __init__(self, inner, before_call=None) -> None:
        self.inner = inner
        self.before_call = before_call
        self.requests: list = []
        self.calls = 0

    def __getattr__(self, name):
        # Everything the explorer reads (stats, encode, token_prompts, name, ...) is the inner policy's.
        return getattr(self.inner, name)

    def generate(self, requests):
        """Record, run the hook, then delegate to the real policy."""
        if self.before_call is not None:
            self.before_call(self.calls)
        self.calls += 1
        self.requests.extend(requests)
        return self.inner.generate(requests)

    def submit(self, requests):
        """Record, then delegate (explore.continuous sends its requests here)."""
        self.requests.extend(requests)
        return self.inner.submit(requests)


def countdown_run(url: str, n_problems: int = 3, seed: int = 5, **search):
    """A Countdown task, a TraceStore at `url` with one explore run over `n_problems` train
    problems, and an MCTS algorithm (`search` overrides SearchSettings): (task, store, run_id, algo)."""
    from db import TraceStore
    from search.algorithms import SearchSettings, make_algorithm
    from search.tasks import make_task

    task = make_task({"name": "countdown", "n_train": n_problems, "n_test": 1, "seed": seed})
    store = TraceStore(url)
    problems = [p for p in task.load_problems() if p.split == "train"][:n_problems]
    ids = store.add_problems([p.row() for p in problems])
    run_id = store.start_run("explore-vllm", "explore", {})
    store.create_trees(run_id, ids)
    algo = make_algorithm(SearchSettings(**{"algorithm": "mcts", "k": 2, "max_expansions": 3, **search}))
    return task, store, run_id, algo


def expected_prompt_ids(store, run_id: int, task, encode) -> dict[tuple[int, ...], tuple[int, int]]:
    """For every stored node: the token-exact prompt that expands it (root prompt ids + the step ids
    of every node on its path), mapped to (tree id, node id). Built from the store alone."""
    from search.tasks.base import Problem

    out: dict[tuple[int, ...], tuple[int, int]] = {}
    for t in store.trees(run_id):
        p = t["problem"]
        problem = Problem(key=p["key"], payload=p["payload"], answer=p.get("answer"),
                          split=p.get("split", "train"), dataset=p.get("dataset", ""))
        prompts: dict[int, tuple[int, ...]] = {}
        for row in store.nodes(t["id"]):  # ordered by seq: parents come first
            if row["parent_id"] is None:
                prompts[row["id"]] = tuple(encode(task.prompt(problem)))
            else:
                prompts[row["id"]] = prompts[row["parent_id"]] + tuple(row["token_ids"])
            out[prompts[row["id"]]] = (t["id"], row["id"])
    return out
