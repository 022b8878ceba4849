"""An LLM judge of reasoning steps: ProcessBench's task (Zheng et al. 2024, arXiv 2412.06559) through
any policy backend. Each root-to-leaf path of a tree is shown to the judge as a question and indexed
steps; the judge answers with the index of the earliest wrong step in `\\boxed{k}`, or `\\boxed{-1}`
when every step is right. The answers of many paths go to the policy in one batched `generate` call.

From a path's answer k: steps before k are `good`, step k is a `mistake`, and the steps after it are
`mistake` too. ProcessBench grades only k; a step after an error is labelled a mistake here because a
stored step label means "this step is still on a way to a correct answer" (as Monte-Carlo rollouts
and an exact oracle read it), and nothing after an error that the path never repairs is. An answer
outside the grammar (no final `\\boxed{}` holding an integer in [-1, steps)) is `unparsed`: stored and
counted, never guessed.

A node lies on every path through it, and the judge may call it right on one path and wrong on
another; its label is the majority of the parsed answers, a tie a `mistake` (a step wrongly trusted
teaches a step scorer more harm than a good step left out), and `detail` keeps every vote.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from search.judge_settings import LabelSettings
from search.policies.base import GenerationRequest, Policy

GOOD, MISTAKE, UNPARSED = "good", "mistake", "unparsed"
_BOXED = re.compile(r"\\boxed\{\s*(-?\d+)\s*\}")
_ANY_BOXED = re.compile(r"\\boxed\{")


@dataclass
class JudgedPath:
    """One root-to-leaf path for the judge: its tree, node ids and the text it is shown."""

    tree_id: int
    node_ids: list[int]
    question: str
    steps: list[str]
    first_error: int | None = None      # the parsed answer: -1 (none), an index, or None (unparsed)
    answer: str = ""                    # the judge's raw text


@dataclass
class NodeVotes:
    """What the judged paths through one node said of it."""

    good: int = 0
    mistake: int = 0
    unparsed: int = 0
    answers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def label(self) -> str:
        if self.good + self.mistake == 0:
            return UNPARSED
        return GOOD if self.good > self.mistake else MISTAKE


def parse_first_error(text: str, n_steps: int) -> int | None:
    """The index the judge's answer ends with: the integer in its LAST `\\boxed{...}`, when that box holds
    an integer in [-1, n_steps); None (unparsed) otherwise, including a last box that holds anything
    else (a later box overrides an earlier one, as a model correcting itself would mean)."""
    boxes = list(_ANY_BOXED.finditer(text or ""))
    if not boxes:
        return None
    last = _BOXED.match(text, boxes[-1].start())
    if last is None:
        return None
    k = int(last.group(1))
    return k if -1 <= k < n_steps else None


def render_prompt(settings: LabelSettings, question: str, steps: Sequence[str]) -> str:
    """The judge's prompt for one path: the template's fields filled, steps tagged with their index."""
    tagged = "\n".join(f"<step_{i}>\n{s}\n</step_{i}>" for i, s in enumerate(steps))
    return settings.template().substitute(question=question, steps=tagged, n_steps=len(steps),
                                          last_index=len(steps) - 1)


def judge_paths(policy: Policy, settings: LabelSettings, paths: list[JudgedPath], seed: int = 0) -> None:
    """Ask the judge about every path in ONE `generate` call; fills `answer` and `first_error` (None
    when the answer is outside the grammar)."""
    prompts = [render_prompt(settings, p.question, p.steps) for p in paths]
    if settings.chat:
        prompts = [policy.render_chat([{"role": "user", "content": text}]) for text in prompts]
    requests = [GenerationRequest(prompt=text, n=1, max_tokens=settings.max_tokens,
                                  temperature=settings.temperature, seed=seed) for text in prompts]
    for path, completions in zip(paths, policy.generate(requests)):
        path.answer = completions[0].text if completions else ""
        path.first_error = parse_first_error(path.answer, len(path.steps))


def node_votes(paths: Sequence[JudgedPath]) -> dict[int, NodeVotes]:
    """Each node's votes from the judged paths through it (see the module docstring)."""
    votes: dict[int, NodeVotes] = {}
    for p in paths:
        for i, node in enumerate(p.node_ids):
            v = votes.setdefault(node, NodeVotes())
            if p.first_error is None:
                v.unparsed += 1
            elif p.first_error == -1 or i < p.first_error:
                v.good += 1
            else:
                v.mistake += 1
            v.answers.append({"leaf": p.node_ids[-1], "index": i, "first_error": p.first_error})
    return votes


def label_rows(paths: Sequence[JudgedPath], model: str) -> list[dict[str, Any]]:
    """`labels` rows (source `judge`) of every node on `paths`, with the model and every vote in
    `detail`, and each path's raw answer on its leaf's row."""
    raw = {p.node_ids[-1]: p.answer for p in paths}
    trees = {node: p.tree_id for p in paths for node in p.node_ids}
    rows = []
    for node, v in node_votes(paths).items():
        tree_id = trees[node]
        detail: dict[str, Any] = {"model": model, "votes": {GOOD: v.good, MISTAKE: v.mistake, UNPARSED: v.unparsed},
                                  "paths": v.answers}
        if node in raw:
            detail["answer"] = raw[node]
        parsed = v.good + v.mistake
        rows.append({"node_id": node, "tree_id": tree_id, "source": "judge", "label": v.label,
                     "score": v.good / parsed if parsed else None, "detail": detail})
    return rows


__all__ = ["GOOD", "MISTAKE", "UNPARSED", "JudgedPath", "NodeVotes", "judge_paths", "label_rows", "node_votes",
           "parse_first_error", "render_prompt"]
