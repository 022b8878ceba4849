"""What a tuned model's answer does when it backtracks: replayed step by step through the task.

A journey-tuned model writes steps, reflections ("Wait, 9 * 8 is 72, not 64. That step is wrong."),
returns ("Let me go back to 3, 8, 9.") and checks ("4 * 3 = 12 checks out; ..."). Reading its
answers with the task's own step checker tells whether each backtrack was

- **justified**: the step it abandoned really was a mistake (illegal, a dead end by the oracle, or
  a wrong final answer), by the task's verifier;
- **true**: the reflection states only true things: its stated reason is what the task itself says
  about the abandoned step (or it states no fact and the step was wrong), and the return names a
  state the answer really passed through;
- **recovered**: the answer still ends with a verified final answer.

A check line is **true** when the step it follows was not a mistake and the fact it states, if any,
is the one the task's `describe_check` states of that step: a model that learned to judge its
steps checks only good ones, and says of them what is so.

Lines are recognised by the reflection, return and check templates of traces/reflections.py (what
the model was trained on); any other line is replayed as a step.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from search.tasks.base import MISTAKE_LABELS, THINK_OPEN, Problem, Task
from traces import reflections as pools

REFLECTION_POOLS = (pools.INVALID_TEMPLATES, pools.DEAD_END_TEMPLATES, pools.WRONG_ANSWER_TEMPLATES,
                    pools.NO_WAY_FORWARD_TEMPLATES, pools.GENERIC_TEMPLATES)
RETURN_POOLS = (pools.RETURN_TEMPLATES, pools.GENERIC_RETURN_TEMPLATES)
CHECK_POOLS = (pools.CHECK_TEMPLATES, pools.GENERIC_CHECK_TEMPLATES)


# A tuned model keeps a template's words but not always its punctuation ("That's not right. 4 + 8
# is not 12." for "That's not right: {reason}."): any of these marks, or none, stands for any other.
_MARKS = ":.,;!"


def _literal(text: str) -> str:
    return "".join(f"[{re.escape(_MARKS)}]?" if ch in _MARKS else re.escape(ch) for ch in text)


def _pattern(template: str) -> re.Pattern:
    out, last = [], 0
    for m in re.finditer(r"\{(\w+)\}", template):
        out.append(_literal(template[last:m.start()]))
        out.append(f"(?P<{m.group(1)}>.+?)")
        last = m.end()
    out.append(_literal(template[last:]))
    return re.compile("".join(out) + r"\s*$", re.IGNORECASE)


@lru_cache(maxsize=None)
def _patterns(kind: str) -> tuple[re.Pattern, ...]:
    groups = {"reflection": REFLECTION_POOLS, "return": RETURN_POOLS, "check": CHECK_POOLS}[kind]
    return tuple(_pattern(t) for pool in groups for t in pool)


def classify(line: str) -> tuple[str, dict[str, str]]:
    """("reflection" | "return" | "check" | "step", the template's filled fields) of one line."""
    text = line.strip()
    for kind in ("reflection", "return", "check"):
        for pattern in _patterns(kind):
            m = pattern.match(text)
            if m:
                return kind, m.groupdict()
    return "step", {}


@dataclass
class Replay:
    """One answer replayed: counts of its backtracks and what they were."""

    steps: int = 0
    backtracks: int = 0
    justified: int = 0
    true_reflections: int = 0
    checks: int = 0
    true_checks: int = 0
    correct: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def recovered(self) -> bool:
        return self.backtracks > 0 and self.correct


def _same(a: str | None, b: str | None) -> bool:
    norm = lambda s: " ".join((s or "").lower().replace(",", " ").split()).rstrip(".")  # noqa: E731
    return a is not None and b is not None and norm(a) == norm(b)


def replay(task: Task, problem: Problem, text: str) -> Replay:
    """Replay one answer through `task` (see the module docstring)."""
    out = Replay()
    answer = task.extract_answer(text)
    out.correct = answer is not None and bool(task.verify(problem, answer))
    steps, _ = task.completion_steps(text)
    if steps and steps[0].startswith(THINK_OPEN):
        steps[0] = steps[0][len(THINK_OPEN):].strip()
    state: dict[str, Any] = task.initial_state(problem)
    visited: list[dict[str, Any]] = [state]          # good states in order, for returns
    last: dict[str, Any] | None = None                # the latest step: label, reason, text, state before
    pending: bool | None = None                       # truth of the open reflection, until its return
    for line in (s for s in steps if s):
        kind, fields = classify(line)
        if kind == "check":
            out.checks += 1
            good = last is not None and last["label"] not in MISTAKE_LABELS
            said = fields.get("fact") or fields.get("fact_cap")
            out.true_checks += int(good and (said is None or _same(said, task.describe_check(last))))
            continue
        if kind == "reflection":
            out.backtracks += 1
            wrong = last is not None and last["label"] in MISTAKE_LABELS
            out.justified += int(wrong)
            said = fields.get("reason")
            truth = task.describe_failure(last) if wrong else None
            pending = wrong and (said is None or _same(said, truth))
            continue
        if kind == "return":
            named = fields.get("state")
            found = next((s for s in reversed(visited) if named is not None and _same(task.describe_state(s), named)),
                         None)
            back = found if found is not None else (last["before"] if last is not None else None)
            if pending is not None:
                # true only if the named state is one the answer really passed through (a generic
                # return names none and adds nothing false)
                out.true_reflections += int(pending and (named is None or found is not None))
                pending = None
            if back is not None:
                state = back
            continue
        if pending is not None:  # a reflection with no return line: judged on its own
            out.true_reflections += int(pending)
            pending = None
        result = task.apply_step(state, line, problem)
        out.steps += 1
        last = {"label": result.label, "reason": result.reason, "text": line, "state": result.state, "before": state}
        if result.state is not None and result.label not in ("invalid",):
            state = result.state
            visited.append(state)
    if pending is not None:
        out.true_reflections += int(pending)
    return out


def replay_rates(replays: list[Replay]) -> dict[str, float | int | None]:
    """The report's backtrack numbers over a model's answers: share of answers with a backtrack,
    backtracks per answer, and the justified / true / recovered rates (over backtracks, backtracks,
    and answers with a backtrack), and check lines per answer with the share of them that are true.
    A rate over nothing (no backtrack, no check line) is None: undefined, stored as JSON null."""
    n = len(replays)
    backtracks = sum(r.backtracks for r in replays)
    with_bt = [r for r in replays if r.backtracks]
    return {
        "answers": n,
        "with_backtrack": len(with_bt),
        "backtrack_share": len(with_bt) / n if n else 0.0,
        "backtracks": backtracks,
        "justified_rate": sum(r.justified for r in replays) / backtracks if backtracks else None,
        "true_rate": sum(r.true_reflections for r in replays) / backtracks if backtracks else None,
        "recovery_rate": sum(r.recovered for r in with_bt) / len(with_bt) if with_bt else None,
        "checks": sum(r.checks for r in replays),
        "checks_per_answer": sum(r.checks for r in replays) / n if n else 0.0,
        "true_check_rate": (sum(r.true_checks for r in replays) / sum(r.checks for r in replays)
                            if any(r.checks for r in replays) else None),
    }
