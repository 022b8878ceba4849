"""The `openai` backend: any OpenAI-compatible `/v1/completions` server (e.g. `vllm serve`).

Every request of a `generate` call is in flight at once (a thread pool of `concurrency` HTTP
requests; the server batches them). Prompts go as token ids when the request has them (vLLM and
OpenAI's legacy completions accept a list of ints), so continuations are token-exact.

vLLM extras (`vllm_extras=True`, the default): `return_token_ids` gives each choice's generated
ids and `include_stop_str_in_output` keeps the stop string in text and ids alike (see
`search/policies/vllm_backend.py` for why); the text is cut before the stop string here. A plain
OpenAI server rejects unknown fields, so turn the extras off there (token ids are then empty).
The prompts' token ids and chat templates come from `policy.tokenizer` or from the server itself
(vLLM's /tokenize and /detokenize), never from a model hub (search/policies/openai_tokens.py).
Cached prompt tokens are reported only by servers that fill `usage.prompt_tokens_details`
(`vllm serve --enable-prompt-tokens-details`).

Several servers (`base_url` a list: one `vllm serve` per GPU or node): each request goes to the
answering server with the fewest requests in flight, so N explorer processes can feed M servers.
Connection errors, timeouts, 429 and 5xx send the request on to another server at once; the server
that failed is skipped for a while (`backoff * 2**k` seconds after its k-th failure in a row, at
most `down_seconds`) and then gets requests again, so a restarted server rejoins. When every
server has failed a request, it waits with exponential backoff and tries again; when that budget
(`max_retries`) is spent the servers are taken as down and `PolicyUnavailable` is raised (the
explorer stops and the run is resumed by re-running it).
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import requests

from search.policies.backend_settings import settings_from
from search.policies.base import PolicyUnavailable, Completion, GenerationRequest, Policy
from search.policies.openai_settings import OpenAISettings
from search.policies.openai_tokens import tokens_source
from search.policies.vllm_backend import cut_at_stop

RETRY_STATUS = {408, 429, 500, 502, 503, 504}


@dataclass(eq=False)  # identity: two servers may share a URL
class _Server:
    """One completions endpoint and what this client knows of its health."""

    url: str
    in_flight: int = 0
    failures: int = 0          # failures in a row; a success resets it
    resting_until: float = 0.0  # time.monotonic() before which it gets no requests
    last_error: str = ""        # why its latest failed attempt failed, for the message when all fail


class OpenAIPolicy(Policy):
    """Completions from OpenAI-compatible servers at `base_url` (one URL or a list, each including `/v1`)."""

    name = "openai"
    # Token-id prompts from the explorer (see VLLMPolicy.token_prompts). Only with `vllm_extras`:
    # without them the server returns no step ids, and parent ids + [] would drop the step.
    token_prompts = True

    def __init__(self, *args: Any, **options: Any) -> None:
        """Talk to the servers of `OpenAISettings(*args, **options)` (or of one OpenAISettings object):
        `OpenAIPolicy("http://127.0.0.1:8000/v1", "served-model", ...)`; the options' meanings are there.

        The tokens (`policy.tokenizer`, or the server's /tokenize) are found on first `encode`/`render_chat`.
        """
        super().__init__()
        self.settings = s = settings_from(OpenAISettings, args, options)
        self._context_length = s.context_length
        self._asked_context = s.context_length is not None
        urls = [s.base_url] if isinstance(s.base_url, str) else list(s.base_url)
        self.base_urls = [u.rstrip("/") for u in urls]
        self.base_url = self.base_urls[0]
        self.url = self.base_url + "/completions"
        self.servers = [_Server(u + "/completions") for u in self.base_urls]
        self.down_seconds = s.down_seconds
        self.served: Counter[str] = Counter()  # completions URL -> requests it answered
        self._servers_lock = threading.Lock()
        self._turn = 0  # the server that wins the next tie
        self.model = s.model
        self.api_key = s.api_key
        self.concurrency = s.concurrency
        self.timeout = s.timeout
        self.max_retries = s.max_retries
        self.backoff = s.backoff
        self.vllm_extras = s.vllm_extras
        self.seeds = s.seeds
        self.token_prompts = s.vllm_extras
        self.extra_body = dict(s.extra_body or {})
        self._tokens = None   # where the served model's tokens come from, found on first use
        self._tokens_lock = threading.Lock()
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=s.concurrency, thread_name_prefix="openai-policy")
        self._stats_lock = threading.Lock()

    # -- tokenizer -------------------------------------------------------------------------
    @property
    def tokens(self):
        """The served model's tokens: `policy.tokenizer`, else the server's /tokenize, else `model` as
        a local folder (search/policies/openai_tokens.py); found on first use, never downloaded."""
        with self._tokens_lock:
            if self._tokens is None:
                self._tokens = tokens_source(self.settings, self._session)
        return self._tokens

    @property
    def tokenizer(self):
        """The transformers tokenizer when the tokens come from this machine; None when the server gives them."""
        return getattr(self.tokens, "tokenizer", None)

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`, without special tokens (chat-rendered prompts already hold them)."""
        return self.tokens.encode(text)

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        """`messages` rendered with the model's chat template, ending with the assistant turn."""
        return self.tokens.render_chat(messages)

    # -- context ---------------------------------------------------------------------------
    @property
    def context_length(self) -> int | None:
        """`policy.context_length`, else the `max_model_len` the first answering server reports for
        the model at `GET /v1/models` (vLLM does; plain OpenAI servers do not: unbounded), asked once.
        Without `vllm_extras` prompts go as text, and counting their tokens needs the model's
        tokenizer here, which a remote model may not have: then only the option sets a limit."""
        if not self._asked_context and not self.token_prompts:
            self._asked_context = True
        if not self._asked_context:
            self._asked_context = True
            self._context_length = self._served_context_length()
        return self._context_length

    def _served_context_length(self) -> int | None:
        for base in self.base_urls:
            try:
                response = self._session().get(base + "/models", timeout=min(self.timeout, 5.0))
                entries = response.json().get("data") or [] if response.status_code == 200 else []
            except (requests.RequestException, ValueError, AttributeError):
                continue
            lengths = [e.get("max_model_len") for e in entries if isinstance(e, dict)
                       and e.get("id") in (self.model, None)] or [e.get("max_model_len") for e in entries
                                                                   if isinstance(e, dict)]
            lengths = [n for n in lengths if isinstance(n, int) and not isinstance(n, bool) and n > 0]
            if lengths:
                return min(lengths)
        return None

    # -- HTTP ------------------------------------------------------------------------------
    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {self.api_key}"
            self._local.session = session
        return session

    def _body(self, request: GenerationRequest) -> dict[str, Any]:
        request.check_sampling("GenerationRequest.")
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": list(request.prompt_token_ids) if request.prompt_token_ids is not None else request.prompt,
            "n": request.n,
            "max_tokens": request.max_tokens,
            "stop": list(request.stop),
            "temperature": request.temperature,
            "top_p": request.top_p,
            "logprobs": 1,
        }
        if request.seed is not None and self.seeds:
            body["seed"] = request.seed
        if self.vllm_extras:
            body["return_token_ids"] = True
            body["include_stop_str_in_output"] = True
        body.update(self.extra_body)
        return body

    def _pick(self, tried: set[int], probe: bool) -> _Server | None:
        """The answering server with the fewest requests in flight that this request has not tried
        yet; with `probe`, the one back soonest when all are resting. Counted as in flight."""
        with self._servers_lock:
            now = time.monotonic()
            fresh = [i for i in range(len(self.servers)) if i not in tried]
            ready = [i for i in fresh if self.servers[i].resting_until <= now]
            n = len(self.servers)
            if ready:  # ties go round the servers, so quick replies still spread
                best = min(ready, key=lambda i: (self.servers[i].in_flight, (i - self._turn) % n))
                self._turn = (best + 1) % n
            elif probe:
                best = min(range(len(self.servers)), key=lambda i: (self.servers[i].resting_until, i))
            else:
                return None
            server = self.servers[best]
            server.in_flight += 1
            return server

    def _done(self, server: _Server, ok: bool) -> None:
        with self._servers_lock:
            server.in_flight -= 1
            if ok:
                server.failures, server.resting_until = 0, 0.0
                self.served[server.url] += 1
            else:
                rest = min(self.down_seconds, self.backoff * 2 ** server.failures)
                server.failures += 1
                server.resting_until = max(server.resting_until, time.monotonic() + rest)

    def _attempt(self, server: _Server, body: dict[str, Any]) -> dict[str, Any] | str:
        """The server's JSON reply, or why a retry may help; a client error raises ValueError."""
        try:
            response = self._session().post(server.url, json=body, timeout=self.timeout)
        except (requests.ConnectionError, requests.Timeout) as exc:
            return f"{type(exc).__name__}: {exc}"
        if response.status_code in RETRY_STATUS:
            return f"HTTP {response.status_code}: {response.text[:200]}"
        if response.status_code != 200:
            # A client error will not go away on retry: it names a bad option or prompt.
            raise ValueError(f"{server.url} rejected the request (HTTP {response.status_code}): {response.text[:500]}")
        try:
            return response.json()
        except ValueError:
            return f"invalid JSON body: {response.text[:200]!r}"

    def _post(self, body: dict[str, Any], server_down: threading.Event) -> dict[str, Any]:
        """POST one completion request: to another server at once when one fails, and after every
        server has failed it, again with exponential backoff."""
        errors: dict[str, str] = {}
        tried: set[int] = set()
        attempts = retries = 0
        spent = False  # this request used up its retries (not just stopped because another one did)
        while not server_down.is_set():  # another request already spent its budget: fail fast
            server = self._pick(tried, probe=False)
            if server is None and attempts == 0:
                # Every server rests after other requests' failures: this request still makes its
                # first attempt now; only its retries wait (otherwise it would fail after fewer
                # attempts than `max_retries` promises, depending on which request failed first).
                server = self._pick(tried, probe=True)
            elif server is None:  # every server failed this request, or is resting
                if retries >= self.max_retries:
                    spent = True
                    break
                time.sleep(self.backoff * 2 ** retries)
                retries += 1
                tried.clear()
                server = self._pick(tried, probe=True)
            tried.add(self.servers.index(server))
            attempts += 1
            ok = False
            try:
                reply = self._attempt(server, body)
                ok = isinstance(reply, dict)
            finally:
                self._done(server, ok)
            if ok:
                return reply
            errors[server.url] = server.last_error = reply
        server_down.set()
        # A request may have tried only some servers (others rested after other requests' failures):
        # the message still says why each one failed, from what any request saw.
        for s in self.servers:
            if s.last_error and s.url not in errors:
                errors[s.url] = s.last_error
        if len(self.servers) == 1:
            error = PolicyUnavailable(
                f"model server {self.url} unavailable after {attempts} attempts "
                f"({errors.get(self.url, 'no attempt made')}); start the server again and re-run to resume"
            )
        else:
            error = PolicyUnavailable(
                f"model servers {', '.join(s.url for s in self.servers)} unavailable after {attempts} attempts "
                f"({'; '.join(f'{url}: {e}' for url, e in errors.items()) or 'no attempt made'}); "
                "start a server again and re-run to resume"
            )
        error.spent = spent
        raise error

    def _one(self, request: GenerationRequest, server_down: threading.Event) -> list[Completion]:
        data = self._post(self._body(request), server_down)
        choices = sorted(data.get("choices") or [], key=lambda c: c.get("index", 0))
        if len(choices) != request.n:
            raise PolicyUnavailable(f"{self.url} returned {len(choices)} choices for n={request.n}: {str(data)[:300]}")
        completions = [self._completion(c, request.stop) for c in choices]
        usage = data.get("usage") or {}
        details = usage.get("prompt_tokens_details") or {}
        with self._stats_lock:
            self.stats.prompt_tokens += int(usage.get("prompt_tokens") or 0)
            self.stats.generated_tokens += int(usage.get("completion_tokens") or 0)
            self.stats.cached_tokens += int(details.get("cached_tokens") or 0)
            self.stats.sequences += len(completions)
        return completions

    @staticmethod
    def _completion(choice: dict[str, Any], stop: tuple[str, ...]) -> Completion:
        logprobs = choice.get("logprobs") or {}
        token_logprobs = [lp for lp in logprobs.get("token_logprobs") or [] if lp is not None]
        return Completion(
            text=cut_at_stop(choice.get("text") or "", stop),
            token_ids=list(choice.get("token_ids") or []),
            logprob=float(sum(token_logprobs)),
            finish_reason="length" if choice.get("finish_reason") == "length" else "stop",
        )

    def generate(self, requests: list[GenerationRequest]) -> list[list[Completion]]:
        """One `n`-sample list per request, in order; all requests in flight at once."""
        if not requests:
            return []
        started = time.perf_counter()
        server_down = threading.Event()
        futures = [self._pool.submit(self._one, r, server_down) for r in requests]
        try:
            results = [f.result() for f in futures]
        except PolicyUnavailable as first:
            # Say why from the request that used up its retries: the others stopped early because of
            # it and saw fewer servers fail. The one that failed first may still be raising: wait a
            # moment, but not for a request stuck in a slow reply.
            wait(futures, timeout=0.5)
            spent = [e for f in futures if f.done() and not f.cancelled()
                     and isinstance(e := f.exception(), PolicyUnavailable) and getattr(e, "spent", False)]
            raise (spent[0] if spent else first) from None
        finally:
            for f in futures:
                f.cancel()
        self.stats.calls += 1
        self.stats.requests += len(requests)
        self.stats.seconds += time.perf_counter() - started
        return results

    continuous = True   # every request is its own HTTP call: `submit` hands each back when it returns

    def submit(self, requests: list[GenerationRequest]) -> list:
        """One future per request, done when its reply is in (`explore.continuous`). A server that is
        down fails each request, after its retries, with PolicyUnavailable."""
        server_down = threading.Event()
        self.stats.calls += 1
        self.stats.requests += len(requests)
        return [self._pool.submit(self._one, r, server_down) for r in requests]

    def close(self) -> None:
        """Stop the worker threads (the server is not ours to stop)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
