"""The `llm` reflection style: a model rewrites template-drafted journeys into natural prose.

A journey is first drafted with template reflections (traces/reflections.py), whose facts all
come from the tree. A language model then rewrites the draft's think block, so that the
reflections read like a person checking their work rather than like a fixed phrase pool. A model
may drop, change or invent facts while doing so, so every rewrite is checked against its draft
(`check_rewrite`): the draft's facts in the task's sense (`Task.kept_facts`: a step's
equations, wrong and right ones, or its numbers) must appear in the rewrite in
the same order, no other fact may appear (for tasks with `Task.strict_facts`), and the final answer
must be unchanged. A rewrite that fails keeps the template draft and is counted.

All drafts of a linearize run go to the model in one batched call (`rewrite_journeys` takes a
`complete(prompts) -> texts` callable, which the linearize stage backs with any policy backend),
never one call per tree. This module imports no model backend (`traces` may use only `db`,
`search.tasks` and the sampling options of `search/sampling.py`).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from search.sampling import SamplingSettings
from search.tasks.base import THINK_CLOSE, THINK_OPEN, Task
from traces.journey import Tokenizer, count_tokens

DEFAULT_INSTRUCTION = (
    "Rewrite the reasoning below in natural, first-person prose, as if you were thinking aloud. "
    "Keep every equation and number exactly as written and in the same order, the wrong ones "
    "included; do not add, remove or change any equation or number. Say in your own words why each "
    "mistake is wrong and where you go back to. End with the same final answer, written the same way."
)

# Rejection categories (the text before the colon of `check_rewrite`'s message); stats count these.
NO_THINK = "no complete think block"
ANSWER_CHANGED = "answer changed"
EQUATION_ADDED = "equation added"
EQUATION_MISSING = "equation dropped, changed or reordered"
OVER_BUDGET = "over the token budget"
EMPTY = "empty rewrite"
FRAME_MARKER = "frame marker in the rewrite"

# Marks on the assistant message of a stored journey (export keeps only role/content).
STYLE_KEY = "reflection"
REJECTED_KEY = "rewrite_rejected"


@dataclass
class RewriteConfig(SamplingSettings):
    """Generation options of the rewrite (the model itself is a policy config node); the sampling
    fields and their check come from search/sampling.py."""

    temperature: float = 0.7
    """Sampling temperature of the rewrite; 0 is greedy."""

    top_p: float = 0.95
    """Nucleus sampling mass."""

    max_tokens: int = 512
    """Most tokens one rewrite may generate; a rewrite cut short has no answer and is rejected."""

    instruction: str = DEFAULT_INSTRUCTION
    """What the model is asked to do; the draft completion follows it."""

    def __post_init__(self) -> None:
        self.check_sampling("linearize.rewrite.")


@dataclass
class RewriteStats:
    """How the rewrites of one batch went."""

    ok: int = 0
    failed: int = 0
    reasons: Counter = field(default_factory=Counter)   # rejection category -> count


def think_body(text: str) -> str | None:
    """The text between `<think>` and `</think>`, stripped; None when the block is missing."""
    start = text.find(THINK_OPEN)
    end = text.find(THINK_CLOSE, start + len(THINK_OPEN)) if start >= 0 else -1
    if start < 0 or end < 0:
        return None
    return text[start + len(THINK_OPEN):end].strip()


def _is_subsequence(needles: list[str], haystack: list[str]) -> str | None:
    """The first needle not found in order in `haystack`, or None when all are."""
    it = iter(haystack)
    for n in needles:
        if not any(h == n for h in it):
            return n
    return None


def check_rewrite(task: Task, draft: str, rewrite: str) -> str | None:
    """Why `rewrite` may not replace `draft` ("category: detail"), or None when it keeps every fact.

    Both are whole completions (`<think>...</think>` + the task's answer). Accepted when the
    rewrite's think block holds the draft's facts (`task.kept_facts`) as an ordered subsequence,
    holds no fact the draft lacks when the task is strict (restating a draft fact is allowed), and
    the answer is the same; a think block holding a frame marker (`Task.frame_markers`) is refused.
    """
    body = think_body(rewrite)
    if body is None:
        return f"{NO_THINK}: the rewrite has no {THINK_OPEN}...{THINK_CLOSE}"
    if not body:
        return f"{EMPTY}: the think block is empty"
    marker = task.frame_markers.search(body)
    if marker is not None:  # model output is untrusted: a second <think>, the task's answer frame, <|im_end|>
        return f"{FRAME_MARKER}: {marker.group()!r} inside the think block"
    want, got = task.extract_answer(draft), task.extract_answer(rewrite)
    if got is None or " ".join(got.split()) != " ".join((want or "").split()):
        return f"{ANSWER_CHANGED}: {got!r} instead of {want!r}"
    draft_eqs, new_eqs = task.kept_facts(think_body(draft) or ""), task.kept_facts(body)
    added = [e for e in new_eqs if e not in set(draft_eqs)]
    if added and task.strict_facts:
        return f"{EQUATION_ADDED}: {added[0]!r} is not in the draft"
    missing = _is_subsequence(draft_eqs, new_eqs)
    if missing is not None:
        return f"{EQUATION_MISSING}: {missing!r} is missing or out of order"
    return None


def rewrite_prompt(draft: str, instruction: str = DEFAULT_INSTRUCTION,
                   render_chat: Callable[[list[dict[str, str]]], str] | None = None) -> str:
    """The prompt for one draft: instruction + draft, ending with an open `<think>` to continue.

    With `render_chat` (a policy's chat template) the request is a user turn; otherwise plain text.
    """
    request = f"{instruction}\n\n{draft}"
    if render_chat is not None:
        head = render_chat([{"role": "user", "content": request}])
    else:
        head = f"{request}\n\nRewritten:\n"
    return f"{head}{THINK_OPEN}\n"


def completed_rewrite(task: Task, generated: str, finish_reason: str | None = "stop") -> str:
    """The whole rewrite from what the model wrote after the prompt's open `<think>`, with the
    task's answer stop string put back where the backend cut it off."""
    return task.close_answer(f"{THINK_OPEN}\n{generated}", finish_reason)


def mark_style(row: dict[str, Any], style: str, rejected: str | None = None) -> dict[str, Any]:
    """A copy of trajectory `row` whose assistant message records the reflection style of its text."""
    out = dict(row)
    messages = [dict(m) for m in (row.get("messages") or [])]
    if messages and messages[-1].get("role") == "assistant":
        messages[-1][STYLE_KEY] = style
        if rejected:
            messages[-1][REJECTED_KEY] = rejected
        out["messages"] = messages
    return out


def accept_rewrite(task: Task, row: dict[str, Any], rewrite: str) -> dict[str, Any]:
    """A copy of trajectory `row` whose think block is `rewrite`'s (answer kept), marked `llm`."""
    body = think_body(rewrite) or ""
    lines = [line.rstrip() for line in body.splitlines() if line.strip()]
    text = task.render_completion(lines, row["answer"])
    out = dict(row, text=text, lines=lines)
    messages = [dict(m) for m in (row.get("messages") or [])]
    if messages and messages[-1].get("role") == "assistant":
        messages[-1]["content"] = text
    out["messages"] = messages
    return mark_style(out, "llm")


def rewrite_journeys(
    task: Task,
    rows: list[dict[str, Any]],
    complete: Callable[[list[str]], list[str]],
    cfg: RewriteConfig | None = None,
    *,
    render_chat: Callable[[list[dict[str, str]]], str] | None = None,
    budget: int | None = None,
    tokenizer: Tokenizer | None = None,
) -> tuple[list[dict[str, Any]], RewriteStats]:
    """Journeys with model-written reflections where the rewrite passes `check_rewrite`.

    `complete(prompts)` returns one generated text per prompt (what follows the open `<think>`)
    and is called exactly once for all rows. Returns new rows in the same order: an accepted
    rewrite replaces `text`, `lines` and the assistant message and is marked `reflection: llm`; a
    rejected one keeps the template draft, marked `reflection: template` plus the reason. With
    `budget`, a rewrite longer than that many tokens (journey `max_tokens`) is rejected too.
    """
    cfg = cfg or RewriteConfig()
    stats = RewriteStats()
    if not rows:
        return [], stats
    prompts = [rewrite_prompt(r["text"], cfg.instruction, render_chat) for r in rows]
    generated = complete(prompts)
    if len(generated) != len(rows):
        raise ValueError(f"rewrite: the model returned {len(generated)} texts for {len(rows)} prompts")
    out = []
    for row, gen in zip(rows, generated):
        rewrite = completed_rewrite(task, gen)
        problem = check_rewrite(task, row["text"], rewrite)
        if problem is None and budget is not None:
            accepted = accept_rewrite(task, row, rewrite)
            used = count_tokens(tokenizer, accepted["text"])
            if used > budget:
                problem = f"{OVER_BUDGET}: {used} tokens > max_tokens={budget}"
        if problem is None:
            stats.ok += 1
            out.append(accept_rewrite(task, row, rewrite))
        else:
            stats.failed += 1
            stats.reasons[problem.split(":", 1)[0]] += 1
            out.append(mark_style(row, "template", rejected=problem))
    return out, stats


__all__ = [
    "DEFAULT_INSTRUCTION",
    "accept_rewrite",
    "RewriteConfig",
    "RewriteStats",
    "check_rewrite",
    "completed_rewrite",
    "mark_style",
    "rewrite_journeys",
    "rewrite_prompt",
    "think_body",
]
