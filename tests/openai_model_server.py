"""A real OpenAI-compatible model server for tests where `vllm serve` cannot run: the bundled model on
transformers (the project's `hf` backend) behind vLLM's routes and reply layouts.

- `POST /v1/completions`: `prompt` as text or token ids, `n`, `max_tokens`, `stop`, `temperature`,
  `top_p`, `seed`, vLLM's `return_token_ids`; requests in flight together are generated as one batch.
- `GET /v1/models`: the served name with its `max_model_len`.
- `POST /tokenize` (`{"model", "prompt"}` or `{"model", "messages", "add_generation_prompt"}` ->
  `{"count", "max_model_len", "tokens"}`) and `POST /detokenize` (`{"model", "tokens"}` -> `{"prompt"}`),
  as vLLM's OpenAI server has them; `tokenize=False` leaves them out (404, a plain OpenAI server).

`fail_after(path, k)` makes that route answer 503 after its k-th request, a server failing mid-run.
"""
from __future__ import annotations

import json
import queue
import threading
from concurrent.futures import Future
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from search.policies.base import GenerationRequest


class _Listener(ThreadingHTTPServer):
    request_queue_size = 256   # dozens of requests in flight: the default backlog (5) resets connections
    daemon_threads = True


class ModelServer:
    """The model at `model_dir` served as `served_name` on 127.0.0.1 (a thread of this process)."""

    def __init__(self, model_dir: Path, served_name: str = "smollm2", tokenize: bool = True,
                 max_model_len: int = 2048) -> None:
        from search.policies.hf import HFPolicy

        self.policy = HFPolicy(model=str(model_dir))
        self.tokenizer = self.policy.tokenizer
        self.served_name, self.tokenize, self.max_model_len = served_name, tokenize, max_model_len
        self.counts: dict[str, int] = {}          # path -> requests it got
        self.failing: dict[str, int] = {}         # path -> requests it answers before failing
        self._jobs: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        threading.Thread(target=self._batches, daemon=True).start()
        self.httpd = _Listener(("127.0.0.1", 0), self._handler())
        self.root = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.base_url = self.root + "/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def fail_after(self, path: str, k: int) -> None:
        """From its (k+1)-th request on, `path` answers 503."""
        self.failing[path] = k

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._jobs.put(None)

    # -- routes ----------------------------------------------------------------------------------
    def route(self, method: str, path: str, body: dict) -> tuple[int, dict]:
        with self._lock:
            self.counts[path] = self.counts.get(path, 0) + 1
            if path in self.failing and self.counts[path] > self.failing[path]:
                return 503, {"error": "the server is failing (test)"}
        if method == "GET" and path == "/v1/models":
            return 200, {"object": "list", "data": [{"id": self.served_name, "max_model_len": self.max_model_len}]}
        if method != "POST" or path not in ("/v1/completions", "/tokenize", "/detokenize") or (
                path != "/v1/completions" and not self.tokenize):
            return 404, {"detail": "Not Found"}
        if body.get("model") != self.served_name:   # vLLM's check and message
            return 404, {"error": {"message": f"The model `{body.get('model')}` does not exist.", "code": 404}}
        if path == "/tokenize":
            if "messages" in body:
                text = self.tokenizer.apply_chat_template(body["messages"], tokenize=False,
                                                          add_generation_prompt=body.get("add_generation_prompt", True))
                ids = self.tokenizer.encode(text, add_special_tokens=body.get("add_special_tokens", False))
            else:
                ids = self.tokenizer.encode(body["prompt"], add_special_tokens=body.get("add_special_tokens", True))
            return 200, {"count": len(ids), "max_model_len": self.max_model_len, "tokens": ids}
        if path == "/detokenize":
            return 200, {"prompt": self.tokenizer.decode(body["tokens"])}
        return 200, self._complete(body)

    def _complete(self, body: dict) -> dict:
        prompt = body["prompt"]
        ids = prompt if isinstance(prompt, list) else None
        request = GenerationRequest(prompt="" if ids else prompt, prompt_token_ids=ids, n=body.get("n", 1),
                                    max_tokens=body.get("max_tokens", 16), stop=tuple(body.get("stop") or ()),
                                    temperature=body.get("temperature", 1.0), top_p=body.get("top_p", 1.0),
                                    seed=body.get("seed"))
        done: Future = Future()
        self._jobs.put((request, done))
        completions = done.result()
        choices = [{"index": i, "text": c.text, "finish_reason": c.finish_reason,
                    "logprobs": {"token_logprobs": [c.logprob]},
                    **({"token_ids": c.token_ids} if body.get("return_token_ids") else {})}
                   for i, c in enumerate(completions)]
        prompt_tokens = len(ids) if ids is not None else len(self.tokenizer.encode(prompt))
        generated = sum(len(c.token_ids) for c in completions)
        return {"object": "text_completion", "model": self.served_name, "choices": choices,
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": generated,
                          "total_tokens": prompt_tokens + generated}}

    def _batches(self) -> None:
        """Every request waiting is generated in one call (the model batches them, as vLLM would)."""
        while (job := self._jobs.get()) is not None:
            batch = [job]
            while not self._jobs.empty():
                more = self._jobs.get()
                if more is None:
                    return
                batch.append(more)
            try:
                results = self.policy.generate([r for r, _ in batch])
            except Exception as exc:  # noqa: BLE001 - handed to the request's own thread
                for _, done in batch:
                    done.set_exception(exc)
                continue
            for (_, done), completions in zip(batch, results):
                done.set_result(completions)

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else {}
                status, reply = server.route(method, self.path, body)
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):  # noqa: N802 - http.server's naming
                self._answer("POST")

            def do_GET(self):  # noqa: N802
                self._answer("GET")

            def log_message(self, *args):
                pass

        return Handler
