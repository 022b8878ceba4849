"""Reflection and return lines that close a wrong trial in a journey.

A reflection says concretely what went wrong when the task can tell, using only what the tree
stored and the task's words for it (`Task.describe_failure`: "9 * 8 is 72, not 64", "that gives 42,
which doesn't fit the question", "0 of 8 completions reached the answer"); a return line names the
last good state in the task's words (`Task.describe_state`: e.g. the numbers a puzzle has left) or, when
the task has none, the last good step generically ("But wait, are we solving this correctly so
far? Let's go back to ..."). Neither ever invents a number or names the gold answer: the facts come
from the tree, the templates only vary the wording, so that a model tuned on journeys learns to
check steps rather than to repeat one fixed phrase.

Styles: `template` (the pools below, chosen with the journey's seeded rng) and `llm`: the journey
is drafted with templates, then a model rewrites the draft into prose that must keep every
equation and the answer (traces/llm_reflection.py). The rewrite is one batched model call for all
journeys of a run, so it is not a per-trial `Reflector`: the linearize stage drafts with
`template` and rewrites afterwards.
"""
from __future__ import annotations

import random
from typing import Any, Protocol

from search.tasks.base import DEAD_END, WRONG_ANSWER, Task

# Arithmetic and other rule errors: the step itself is wrong.
INVALID_TEMPLATES = (
    "Wait, {reason}. That step is wrong.",
    "Hold on, {reason}, so that step is a mistake.",
    "Let me check that: {reason}. That is an error.",
    "Hmm, {reason}. I made a mistake there.",
    "That's not right: {reason}.",
    "Checking the step again, {reason}. It does not work.",
    "Oops, {reason}. That step is invalid.",
    "Wait, that is wrong: {reason}.",
)

# Dead ends: the steps were legal but the goal can no longer be reached.
DEAD_END_TEMPLATES = (
    "Hmm, {reason}, so this cannot work.",
    "Wait, {reason}. This is a dead end.",
    "This path fails: {reason}.",
    "Looking at what is left, {reason}. There is no way forward here.",
    "That doesn't work: {reason}.",
    "Hmm, {reason}. I need a different step.",
    "Let me check: {reason}. This branch is hopeless.",
    "So {reason}. That approach fails.",
)

# A stated final answer the verifier rejected: the reason names the model's own answer, never the gold.
WRONG_ANSWER_TEMPLATES = (
    "Wait, {reason}. Let me check my work.",
    "Hmm, {reason}. Something went wrong earlier.",
    "Hold on: {reason}. That answer can't be right.",
    "Let me verify: {reason}. I need to rethink this.",
    "But {reason}. I made a mistake somewhere.",
    "Checking the result, {reason}. That is not it.",
)

# A legal step from which no Monte-Carlo completion reached the answer: the fact is that it leads
# nowhere, which the model should say in its own voice, not as "0 of 8 completions".
NO_WAY_FORWARD_TEMPLATES = (
    "Hmm, I don't think this step leads to the answer.",
    "Wait, continuing from here doesn't work out.",
    "Let me think about where this goes... it doesn't reach a consistent answer.",
    "Hold on, this line of reasoning is going nowhere.",
    "Hmm, following this through doesn't give the answer.",
    "That step looks wrong; nothing sensible follows from it.",
)

# When the task cannot say what is wrong: a check that questions the path without claiming a fact.
GENERIC_TEMPLATES = (
    "But wait, are we solving this correctly so far?",
    "Hmm, I'm not sure this approach is right.",
    "Wait, let me double-check this line of reasoning.",
    "Hold on, this doesn't seem to lead anywhere.",
    "Let me reconsider; this path looks wrong.",
    "Hmm, that step looks doubtful.",
)

RETURN_TEMPLATES = (
    "Let me go back to {state}.",
    "Back to {state}.",
    "Going back to {state} and trying something else.",
    "Let me return to {state} and try another step.",
    "I'll backtrack to {state}.",
    "Starting again from {state}.",
    "Back to {state}: let me try a different operation.",
    "So I return to {state}.",
)

# Return lines when the task has no words for a state.
GENERIC_RETURN_TEMPLATES = (
    "Let's go back to the last step that was right.",
    "Let me go back to where I was still on track.",
    "Going back to the last correct step and trying something else.",
    "I'll return to the last good step and take a different route.",
    "Let me backtrack to the previous correct step.",
    "Back to the last step I trust.",
)
FALLBACK_STATE = "the last correct step"

# Checks after a correct step (`journey.checks`): the task's true statement about the step, so that
# a reflection does not always mean "go back" and the model learns to judge every step (ASTRO's
# "our solution seems to be correct so far").
CHECK_TEMPLATES = (
    "Let me check: {fact}.",
    "Checking that step: {fact}. Good.",
    "So far so good: {fact}.",
    "Quick check: {fact}, so I keep going.",
    "Verifying: {fact}.",
    "{fact_cap}, so this step is fine.",
)

# When the task has no words for the check: true of any step on a verified path.
GENERIC_CHECK_TEMPLATES = (
    "Let me check that step... it looks right, so I continue.",
    "So far this looks correct.",
    "Checking: this step is consistent with the problem. Continuing.",
    "That step seems right; on to the next one.",
)


def check_line(task: Task, node: dict[str, Any], rng: random.Random) -> str:
    """A check line after the correct step `node` (its attributes), in the task's words when it has them."""
    fact = (task.describe_check(node) or "").strip().rstrip(".").strip()
    if not fact:
        return rng.choice(GENERIC_CHECK_TEMPLATES)
    return rng.choice(CHECK_TEMPLATES).format(fact=fact, fact_cap=fact[0].upper() + fact[1:])



class Reflector(Protocol):
    """Writes the (reflection, return) pair that closes one wrong trial."""

    def __call__(self, failure: dict[str, Any], good_state: dict[str, Any] | None,
                 rng: random.Random) -> tuple[str, str]:
        """`failure`: the failing node's attributes (label, reason, text, state); `good_state`:
        the state of the correct-path node the journey returns to."""
        ...


def _templates_for(failure: dict[str, Any], reason: str | None) -> tuple[str, ...]:
    if failure.get("label") == DEAD_END and failure.get("mc_value") is not None:
        return NO_WAY_FORWARD_TEMPLATES
    if reason is None:
        return GENERIC_TEMPLATES
    if failure.get("label") == WRONG_ANSWER:
        return WRONG_ANSWER_TEMPLATES
    return DEAD_END_TEMPLATES if failure.get("label") == DEAD_END else INVALID_TEMPLATES


class TemplateReflector:
    """Reflections drawn from the template pools with the journey's rng, in the task's words."""

    def __init__(self, task: Task):
        self.task = task

    def reason(self, failure: dict[str, Any]) -> str | None:
        """What went wrong as a clause without a trailing period, or None when the task can't say."""
        # A reason may quote the model (math's wrong answer): shown without frame markers, like steps.
        reason = self.task.quote(self.task.describe_failure(failure))
        reason = reason.strip().rstrip(".").strip()
        return reason or None

    def __call__(self, failure: dict[str, Any], good_state: dict[str, Any] | None,
                 rng: random.Random) -> tuple[str, str]:
        """One reflection line (with the failure's reason when known) and one return line."""
        reason = self.reason(failure)
        reflection = rng.choice(_templates_for(failure, reason)).format(reason=reason)
        state = self.task.describe_state(good_state)
        if state is None:
            return reflection, rng.choice(GENERIC_RETURN_TEMPLATES)
        return reflection, rng.choice(RETURN_TEMPLATES).format(state=state)

    def candidate_lines(self, failure: dict[str, Any], good_state: dict[str, Any] | None) -> set[str]:
        """Every line this reflector could write for this failure and state (for checks)."""
        reason = self.reason(failure)
        state = self.task.describe_state(good_state)
        backs = GENERIC_RETURN_TEMPLATES if state is None else tuple(t.format(state=state) for t in RETURN_TEMPLATES)
        return {t.format(reason=reason) for t in _templates_for(failure, reason)} | set(backs)


REFLECTORS: dict[str, type] = {"template": TemplateReflector}
# Every `reflection=` value the journey config accepts; `llm` is a rewrite of the template draft.
STYLES = ("template", "llm")


def make_reflector(style: str, task: Task) -> Reflector:
    """The reflector for a `reflection=` style; a clear error for unknown or not-yet-built styles."""
    if style == "llm":
        raise ValueError(
            "reflection='llm' rewrites whole journeys in one batched model call, not one trial at a "
            "time: draft with reflection='template' and pass the drafts to "
            "traces.llm_reflection.rewrite_journeys (the linearize stage does this for "
            "linearize.journey.reflection=llm)"
        )
    if style not in REFLECTORS:
        raise ValueError(f"unknown reflection style {style!r}; choose one of {sorted(REFLECTORS)}")
    return REFLECTORS[style](task)
