"""The step placeholder of the `prm_openrlhf` export: one token of the tokenizer the PRM is trained with.

OpenRLHF's `ProcessRewardDataset` (openrlhf/datasets/process_reward_dataset.py, v0.9.5, its last
release with PRM training) turns `--placeholder_token` into an id with `convert_token_to_id`, which
asserts that `tokenizer.encode(token)` is exactly one id, and puts the step labels where that id
occurs in the tokenized `input`. Its training script adds no token to the tokenizer. So the
placeholder must be one id on its own and one id where the text has it (after a space), and no other
text may hold it, or the labels shift. Math-Shepherd's ` ки` is one token for Mistral's tokenizer
but two for many others (SmolLM2's included), so `auto` picks, per tokenizer, the first candidate that
passes on every row: ` ки`, then the tokenizer's unused special tokens (reserved ones first, as
OpenRLHF's own Llama-3 example used `<|reserved_special_token_0|>`).
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

AUTO = "auto"
NONE = "none"      # no prm_openrlhf: for a tokenizer with no token to spare (a small student's)
SHEPHERD_TAG = "ки"          # Math-Shepherd's step tag (a Cyrillic word that a model's text practically never holds)
REWARD_TOKENS = ("+", "-")   # OpenRLHF's `--reward_tokens + -`: the good step's label first


class PlaceholderError(ValueError):
    """`export.prm_placeholder` or `export.prm_model` cannot give OpenRLHF one token per step."""


@dataclass(frozen=True)
class PrmTokenizer:
    """The tokenizer a PRM will be trained with, and where it came from (for the card and messages)."""

    tokenizer: Any
    source: str
    """The option and value that named it, e.g. `policy.model=smollm2-135m`."""
    embedding_rows: int | None = None
    """The model's `vocab_size` when its config.json is at hand: an id past it has no embedding."""


@dataclass(frozen=True)
class StepRow:
    """What the checks need of one row: a name for messages, its question and steps as one text, and
    how many steps (placeholders) it has."""

    name: str
    text: str
    steps: int


@dataclass(frozen=True)
class Placeholder:
    """The placeholder written into `prm_openrlhf`'s `input`, and what it was checked against."""

    text: str
    vocab_id: int | None = None
    """Its one id in `checked_with`; None when no tokenizer was at hand to check it."""
    checked_with: str | None = None


def _embedding_rows(model_dir: str) -> int | None:
    config = Path(model_dir) / "config.json"
    try:
        return int(json.loads(config.read_text(encoding="utf-8"))["vocab_size"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load_prm_tokenizer(requested: str | None, policy: Mapping[str, Any] | None) -> PrmTokenizer | None:
    """The tokenizer of `export.prm_model`, else of the run's policy (`policy.tokenizer`, then
    `policy.model`). A named `export.prm_model` that does not load is a PlaceholderError naming it; the
    policy's is looked up on this machine only (no download) and None when it has none (the symbolic
    and scripted policies), in which case the placeholder is Math-Shepherd's tag, unchecked."""
    from transformers import AutoTokenizer

    from search.policies.default_model import resolve_model

    policy = dict(policy or {})
    if requested:
        option, ref, local_only = "export.prm_model", str(requested), False
    elif policy.get("tokenizer") or policy.get("model"):
        key = "tokenizer" if policy.get("tokenizer") else "model"
        option, ref, local_only = f"policy.{key}", str(policy[key]), True
    else:
        return None
    looks_like_folder = ref.startswith((".", "~", "/")) or "\\" in ref or ref.count("/") > 1
    if requested and looks_like_folder and not Path(ref).expanduser().is_dir():
        raise PlaceholderError(f"export.prm_model={ref}: no such folder (a model folder or hub id whose tokenizer "
                               "the PRM is trained with)")
    try:
        path = resolve_model(ref)
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=local_only)
    except Exception as err:  # transformers raises OSError, ValueError, or its own errors for a bad folder
        if not requested:
            return None
        first = " ".join(str(err).split("\n", 1)[0].split())[:200]
        raise PlaceholderError(f"export.prm_model={ref}: its tokenizer does not load ({type(err).__name__}: {first})") from None
    return PrmTokenizer(tokenizer, f"{option}={ref}", _embedding_rows(path))


def _one_id_problem(prm: PrmTokenizer, token: str) -> str | None:
    """openrlhf.utils.utils.convert_token_to_id's assertion: the token alone encodes as one id."""
    ids = prm.tokenizer.encode(token, add_special_tokens=False)
    if len(ids) != 1:
        return f"the tokenizer of {prm.source} encodes it as {len(ids)} ids {ids}, not one"
    if prm.embedding_rows is not None and ids[0] >= prm.embedding_rows:
        return f"its id {ids[0]} is past the model's {prm.embedding_rows} embedding rows"
    return None


def token_problem(prm: PrmTokenizer, token: str) -> str | None:
    """Why `token` cannot be OpenRLHF's placeholder in this tokenizer; None if it can: one id alone
    (what OpenRLHF looks for) and the same id after a space (where the rows hold it)."""
    if not token or token != token.strip():
        return "it must be non-empty with no space at either end"
    problem = _one_id_problem(prm, token)
    if problem:
        return problem
    token_id = prm.tokenizer.encode(token, add_special_tokens=False)[0]
    if prm.tokenizer.encode(f"x {token}\ny", add_special_tokens=False).count(token_id) != 1:
        return f"after a space, as the rows hold it, the tokenizer of {prm.source} does not encode it as id {token_id}"
    return None


def check_tokens(requested: str, prm: PrmTokenizer | None) -> None:
    """What can be checked before the rows are read: the reward tokens `+` and `-`, and a requested
    placeholder, are one id each in `prm` (PlaceholderError naming the option otherwise)."""
    if prm is None or requested == NONE:
        return
    for reward in REWARD_TOKENS:  # OpenRLHF's labels: the id of `+` or `-`, each one token alone
        problem = _one_id_problem(prm, reward)
        if problem:
            raise PlaceholderError(f"OpenRLHF's reward token {reward!r} cannot label prm_openrlhf: {problem}; "
                                   "set export.prm_model to the model the PRM is trained from")
    problem = token_problem(prm, requested) if requested != AUTO else None
    if problem:
        raise PlaceholderError(f"export.prm_placeholder={requested!r} cannot be OpenRLHF's placeholder: {problem}")


def _candidates(prm: PrmTokenizer) -> list[str]:
    """Math-Shepherd's tag, then special tokens the tokenizer has but neither names (bos, eos, pad,
    unk, ...) nor uses in its chat template: reserved ones first."""
    tok = prm.tokenizer
    named = set(getattr(tok, "all_special_tokens", []) or [])
    template = str(getattr(tok, "chat_template", "") or "")
    added = getattr(tok, "added_tokens_decoder", {}) or {}
    unused = [t.content for _, t in sorted(added.items())
              if getattr(t, "special", False) and t.content not in named and t.content not in template]
    return [SHEPHERD_TAG, *sorted(unused, key=lambda t: "reserved" not in t)]


def _row_problem(prm: PrmTokenizer, token: str, rows: Sequence[StepRow], render: Callable[[str], list[str]]) -> str | None:
    """Why `token` fails on the rows: a question or step holding it, or a row whose tokens hold its id
    other than once per step."""
    for row in rows:
        if token in row.text:
            return f"{row.name} holds it in its question or a step"
    token_id = prm.tokenizer.encode(token, add_special_tokens=False)[0]
    inputs = render(token)
    encoded = prm.tokenizer(inputs, add_special_tokens=False)["input_ids"] if inputs else []
    for row, ids in zip(rows, encoded):
        if ids.count(token_id) != row.steps:
            return f"{row.name} holds its id {ids.count(token_id)} times for {row.steps} steps"
    return None


def choose_placeholder(requested: str, prm: PrmTokenizer | None, rows: Sequence[StepRow],
                       render: Callable[[str], list[str]]) -> Placeholder:
    """The placeholder for `rows`, whose `input` texts with a candidate token are `render(token)` (in
    the same order). `requested` is `export.prm_placeholder`: `auto`, or a token that must pass the same
    checks (PlaceholderError naming the option otherwise). The reward tokens `+` and `-` are checked too.
    Without a tokenizer the token is Math-Shepherd's tag (or the requested one), unchecked."""
    if prm is None:
        return Placeholder(SHEPHERD_TAG if requested == AUTO else requested)
    check_tokens(requested, prm)
    tried = [requested] if requested != AUTO else _candidates(prm)
    problems = []
    for token in tried:
        problem = token_problem(prm, token) or _row_problem(prm, token, rows, render)
        if problem is None:
            token_id = prm.tokenizer.encode(token, add_special_tokens=False)[0]
            return Placeholder(token, token_id, prm.source)
        if requested != AUTO:
            raise PlaceholderError(f"export.prm_placeholder={requested!r} cannot be OpenRLHF's placeholder: {problem}")
        problems.append(f"{token!r}: {problem}")
    raise PlaceholderError(f"export.prm_placeholder=auto found no token of {prm.source} to be OpenRLHF's placeholder "
                           f"(tried {'; '.join(problems[:3])}); set export.prm_placeholder=<a token it encodes as one id>, "
                           "or export.prm_placeholder=none to export without prm_openrlhf")


__all__ = ["AUTO", "NONE", "Placeholder", "PrmTokenizer", "REWARD_TOKENS", "PlaceholderError", "SHEPHERD_TAG", "StepRow", "check_tokens", "choose_placeholder",
           "load_prm_tokenizer", "token_problem"]
