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
