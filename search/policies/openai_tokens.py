"""Where the `openai` backend gets the served model's tokens, without a model hub.

The explorer sends token-id prompts (`vllm_extras`), renders chat prompts (`task.prompt_format=chat`)
and counts text prompts against `policy.context_length`: all three need the served model's tokenizer.
It comes from, in this order:

1. `policy.tokenizer`, a folder holding the tokenizer (or the bundled model's name, or a hub id that is
   already in the local cache), loaded with `local_files_only`;
2. the server itself: vLLM's `POST /tokenize` (`{"model", "prompt"}` -> `{"tokens", "count",
   "max_model_len"}`; with `"messages"` instead of `"prompt"` it applies the model's chat template) and
   `POST /detokenize` (`{"model", "tokens"}` -> `{"prompt"}`), served at the server's root beside `/v1`;
3. `policy.model` when it is itself such a folder or a cached hub id.

Nothing is ever downloaded: the served model's name (often a hub id, or a name given with
`--served-model-name`) is not a tokenizer this machine has, and a hub lookup of it only waits out its
retries. When none of the three is there, the line names both options (`check_tokens_source`, run at
config time when the server answers, and `ServerTokens`/`tokens_source` at start otherwise).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import requests

from search.policies.base import PolicyUnavailable

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")
PROBE_TIMEOUT = (2.0, 10.0)   # (connect, read) seconds: a config check must not hang on a far host


class NoTokenizer(PolicyUnavailable):
    """Neither `policy.tokenizer` nor the server's `/tokenize` gives the served model's tokens."""


def server_root(base_url: str) -> str:
    """The server's root (vLLM serves /tokenize there, beside /v1): `base_url` without its `/v1`."""
    url = base_url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def probe_tokenize(base_url: str, model: str, api_key: str = "EMPTY") -> tuple[str, str]:
    """("yes", "") when the server at `base_url` tokenizes for `model`; ("no", its reply) when it
    answers without doing so (a plain OpenAI server: 404); ("down", why) when it does not answer."""
    url = server_root(base_url) + "/tokenize"
    try:
        reply = requests.post(url, json={"model": model, "prompt": "0", "add_special_tokens": False},
                              headers={"Authorization": f"Bearer {api_key}"}, timeout=PROBE_TIMEOUT)
    except (requests.ConnectionError, requests.Timeout) as exc:
        return "down", f"{type(exc).__name__}"
    if reply.status_code >= 500:
        return "down", f"HTTP {reply.status_code}"
    try:
        tokens = reply.json().get("tokens") if reply.status_code == 200 else None
    except (ValueError, AttributeError):
        tokens = None
    if isinstance(tokens, list):
        return "yes", ""
    return "no", f"{url} answered HTTP {reply.status_code}: {' '.join(reply.text.split())[:160]}"


def tokenizer_folder_problem(name: str) -> str | None:
    """Why `name` is not a tokenizer this machine has (None when it is): the bundled model, a folder
    with tokenizer files, or a hub id whose tokenizer is in the local cache. Reads no weights."""
    from search.policies.default_model import DEFAULT_MODEL, bundled_gguf

    if name in (DEFAULT_MODEL, "default"):
        try:
            bundled_gguf()
        except FileNotFoundError as err:
            return str(err)
        return None
    path = Path(name).expanduser()
    if path.is_dir():
        if any((path / f).is_file() for f in TOKENIZER_FILES):
            return None
        return f"the folder {path} holds no tokenizer (none of {', '.join(TOKENIZER_FILES)})"
    if path.exists():
        return f"{path} is a file, not a tokenizer folder"
    if name.startswith(("/", ".", "~")) or name.count("/") > 1:
        return f"no such folder: {path}"
    from huggingface_hub import try_to_load_from_cache

    try:
        if any(isinstance(try_to_load_from_cache(name, f), str) for f in TOKENIZER_FILES):
            return None
    except ValueError:  # not even the form of a hub id (huggingface_hub's HFValidationError)
        return f"no such folder: {path}"
    return (f"{name!r} is not a folder, and no copy of that hub id is in the local cache "
            "(nothing is downloaded: give the folder of the served model's tokenizer)")


def no_tokenizer_line(replies: list[str]) -> str:
    """The line for a server without /tokenize and no `policy.tokenizer`: both ways out."""
    return ("policy=openai needs the served model's tokenizer (token-id prompts, chat templates, counting "
            f"prompt tokens) and has none: {'; '.join(replies)}. Serve the model with vLLM (its /tokenize and "
            "/detokenize give the tokens), or set policy.tokenizer=DIR, the folder of the served model's "
            "tokenizer (nothing is downloaded from a model hub)")


def check_tokens_source(base_urls: list[str], model: str, api_key: str, tokenizer: str | None) -> None:
    """ValueError with one line when no tokenizer will be at hand (config time, before anything is
    written). A server that does not answer now is not judged: the run's own line says it is down."""
    if tokenizer is not None:
        problem = tokenizer_folder_problem(tokenizer)
        if problem:
            raise ValueError(f"policy.tokenizer={tokenizer}: {problem}")
        return
    verdicts = [probe_tokenize(url, model, api_key) for url in base_urls]
    if any(v == "yes" for v, _ in verdicts) or all(v == "down" for v, _ in verdicts):
        return
    if tokenizer_folder_problem(model) is None:   # policy.model is itself a local tokenizer
        return
    raise ValueError(no_tokenizer_line([why for v, why in verdicts if v == "no"]))


def load_local_tokenizer(name: str, option: str = "policy.tokenizer"):
    """A transformers tokenizer from a folder, the bundled model or the local hub cache; never a download."""
    problem = tokenizer_folder_problem(name)
    if problem:
        raise NoTokenizer(f"{option}={name}: {problem}")
    from transformers import AutoTokenizer

    from search.policies.default_model import resolve_model

    try:
        return AutoTokenizer.from_pretrained(resolve_model(name), local_files_only=True)
    except (OSError, ValueError) as err:
        why = " ".join(str(err).split())[:200]
        raise NoTokenizer(f"{option}={name}: the tokenizer does not load ({why})") from None


class LocalTokens:
    """Tokens from a transformers tokenizer on this machine."""

    source = "local"

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


class ServerTokens:
    """Tokens from the server's own tokenizer (vLLM's /tokenize and /detokenize), with the policy's
    retry budget: a server gone mid-run raises PolicyUnavailable, like a completion request."""

    source = "server"

    def __init__(self, roots: list[str], model: str, session: Callable[[], requests.Session],
                 timeout: float, max_retries: int, backoff: float) -> None:
        self.roots, self.model, self.session = roots, model, session
        self.timeout, self.max_retries, self.backoff = timeout, max_retries, backoff

    def encode(self, text: str) -> list[int]:
        """Token ids of `text` without special tokens (chat-rendered prompts already hold them)."""
        return self._tokens({"prompt": text, "add_special_tokens": False})

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        """The server applies the model's chat template (`/tokenize` with `messages`, as vLLM's
        /v1/chat/completions would), and `/detokenize` gives the text back, special tokens included."""
        ids = self._tokens({"messages": messages, "add_generation_prompt": True, "add_special_tokens": False})
        prompt = self._post("/detokenize", {"model": self.model, "tokens": ids}).get("prompt")
        if not isinstance(prompt, str):
            raise PolicyUnavailable(f"{self.roots[0]}/detokenize returned no prompt text")
        return prompt

    def _tokens(self, body: dict[str, Any]) -> list[int]:
        tokens = self._post("/tokenize", {"model": self.model, **body}).get("tokens")
        if not isinstance(tokens, list):
            raise PolicyUnavailable(f"{self.roots[0]}/tokenize returned no token ids")
        return [int(t) for t in tokens]

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, str] = {}
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            for root in self.roots:
                try:
                    reply = self.session().post(root + path, json=body, timeout=self.timeout)
                except (requests.ConnectionError, requests.Timeout) as exc:
                    errors[root] = type(exc).__name__
                    continue
                if reply.status_code >= 500 or reply.status_code in (408, 429):
                    errors[root] = f"HTTP {reply.status_code}"
                    continue
                if reply.status_code != 200:   # it answered the probe: a refusal now will not go away
                    raise PolicyUnavailable(f"{root}{path} refused the request (HTTP {reply.status_code}): "
                                            f"{' '.join(reply.text.split())[:300]}")
                try:
                    return reply.json()
                except ValueError:
                    errors[root] = f"invalid JSON: {reply.text[:100]!r}"
        why = "; ".join(f"{root}: {error}" for root, error in errors.items())
        raise PolicyUnavailable(f"model server unavailable for {path} ({why}); "
                                "start the server again and re-run to resume")


def tokens_source(settings, session: Callable[[], requests.Session]) -> LocalTokens | ServerTokens:
    """The tokens of `OpenAISettings` `settings` (the order is the module's docstring); NoTokenizer
    when none is at hand, PolicyUnavailable when the servers do not answer and nothing local names one."""
    if settings.tokenizer is not None:
        return LocalTokens(load_local_tokenizer(settings.tokenizer))
    urls = [settings.base_url] if isinstance(settings.base_url, str) else list(settings.base_url)
    verdicts = [(url, *probe_tokenize(url, settings.model, settings.api_key)) for url in urls]
    serving = [server_root(url) for url, v, _ in verdicts if v == "yes"]
    if serving:
        return ServerTokens(serving, settings.model, session, settings.timeout, settings.max_retries, settings.backoff)
    if tokenizer_folder_problem(settings.model) is None:
        return LocalTokens(load_local_tokenizer(settings.model, "policy.model"))
    if all(v == "down" for _, v, _ in verdicts):
        raise PolicyUnavailable(f"model server {', '.join(urls)} unavailable ({'; '.join(w for _, _, w in verdicts)}): "
                                "no tokenizer from its /tokenize; start the server again and re-run to resume, "
                                "or set policy.tokenizer=DIR")
    raise NoTokenizer(no_tokenizer_line([why for _, v, why in verdicts if v == "no"]))
