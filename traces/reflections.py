"""Reflection and return lines that close a wrong trial in a journey.

A reflection says concretely what went wrong, using only the failing node's stored `reason`
("9 * 8 is 72, not 64", "5, 64 cannot make 22"); a return line names the last good state (the
numbers left at the correct-path node the journey goes back to). Neither ever invents a number:
the facts come from the tree, the templates only vary the wording, so that a model tuned on
journeys learns to check steps rather than to repeat one fixed phrase.

Styles: `template` (the pools below, chosen with the journey's seeded rng) and `llm`: the journey
is drafted with templates, then a model rewrites the draft into prose that must keep every
equation and the answer (traces/llm_reflection.py). The rewrite is one batched model call for all
journeys of a run, so it is not a per-trial `Reflector`: the linearize stage drafts with
`template` and rewrites afterwards.
"""
from __future__ import annotations

import random
from typing import Any, Protocol

from search.tasks.base import DEAD_END

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

# Dead ends: the steps were legal but the target can no longer be reached.
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

# Used only when a failing node has no stored reason (e.g. an unparsable line): no numbers.
FALLBACK_REASONS = {DEAD_END: "the target can no longer be reached from here"}
FALLBACK_INVALID_REASON = "that step does not follow the rules"
FALLBACK_STATE = "the last correct step"


class Reflector(Protocol):
    """Writes the (reflection, return) pair that closes one wrong trial."""

    def __call__(self, failure: dict[str, Any], good_state: dict[str, Any] | None,
                 rng: random.Random) -> tuple[str, str]:
        """`failure`: the failing node's attributes (label, reason, text, state); `good_state`:
        the state of the correct-path node the journey returns to."""
        ...


def reason_text(failure: dict[str, Any]) -> str:
    """The failing node's reason as a clause (no trailing period), or a number-free fallback."""
    reason = (failure.get("reason") or "").strip().rstrip(".").strip()
    if reason:
        return reason
    return FALLBACK_REASONS.get(failure.get("label"), FALLBACK_INVALID_REASON)


def describe_state(state: dict[str, Any] | None) -> str:
    """A state as the numbers left ("3, 8, 9"); a generic phrase for states without `nums`."""
    if state and isinstance(state.get("nums"), list) and state["nums"]:
        return ", ".join(str(n) for n in state["nums"])
    return FALLBACK_STATE


def _templates_for(failure: dict[str, Any]) -> tuple[str, ...]:
    return DEAD_END_TEMPLATES if failure.get("label") == DEAD_END else INVALID_TEMPLATES


class TemplateReflector:
    """Reflections drawn from the template pools with the journey's rng."""

    def __call__(self, failure: dict[str, Any], good_state: dict[str, Any] | None,
                 rng: random.Random) -> tuple[str, str]:
        """One reflection line embedding the failure's reason and one return line naming the state."""
        reflection = rng.choice(_templates_for(failure)).format(reason=reason_text(failure))
        back = rng.choice(RETURN_TEMPLATES).format(state=describe_state(good_state))
        return reflection, back

    def candidate_lines(self, failure: dict[str, Any], good_state: dict[str, Any] | None) -> set[str]:
        """Every line this reflector could write for this failure and state (for checks)."""
        reason, state = reason_text(failure), describe_state(good_state)
        return {t.format(reason=reason) for t in _templates_for(failure)} | {
            t.format(state=state) for t in RETURN_TEMPLATES
        }


REFLECTORS: dict[str, type] = {"template": TemplateReflector}
# Every `reflection=` value the journey config accepts; `llm` is a rewrite of the template draft.
STYLES = ("template", "llm")


def make_reflector(style: str) -> Reflector:
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
    return REFLECTORS[style]()
