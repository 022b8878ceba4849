"""Step-level beam search guided by a step scorer (training/prm_beam.py): the scorer, not the gold
answer, decides which partial answers grow and which finished one is the answer."""
from __future__ import annotations

from search.policies.base import Completion, GenerationRequest, Policy
from search.tasks import make_task
from search.tasks.base import Problem
from training.prm_beam import beam_search

FIRST = ["2 + 3 = 5. Left: 5, 4", "2 * 3 = 6. Left: 6, 4"]
THEN = {"5": ["<answer>(2 + 3) * 4", "<answer>(2 + 3) + 4"], "6": ["<answer>(2 * 3) * 4", "<answer>(2 * 3) + 4"]}


class StepTable(Policy):
    """A test policy: the first step is one of FIRST (in turn), the next one of THEN's answers."""

    def __init__(self):
        self.requests: list[GenerationRequest] = []

    def generate(self, requests):
        self.requests += requests
        out = []
        for r in requests:
            done = r.prompt.split("Q:", 1)[1]
            if "Left: 5" in done or "Left: 6" in done:
                options = THEN["5" if "Left: 5" in done else "6"]
            else:
                options = FIRST
            out.append([Completion(options[i % len(options)], [1] * 3, 0.0, "stop") for i in range(r.n)])
        return out

    def close(self):
        pass


def _prefers(*fragments: str):
    """A scorer that likes steps holding one of `fragments` (0.9) and nothing else (0.1)."""
    return lambda paths: [[0.9 if any(f in s for f in fragments) else 0.1 for s in p["completions"]] for p in paths]


def test_beam_search_grows_and_picks_what_the_scorer_ranks_highest():
    task = make_task({"name": "countdown"})
    problem = Problem(key="p", payload={"nums": [2, 3, 4], "target": 24}, split="test")
    # Budget 4, width 2: 4 starts, the best 2 kept (both `2 * 3`), each continued twice; `(2 * 3) * 4`
    # scores highest. A scorer that likes `2 + 3` and `+ 4` picks a wrong answer: the verifier only
    # grades the pick, it never steers the search.
    right = beam_search(StepTable(), _prefers("2 * 3 =", "* 4"), task, [problem], ["Q:"], n=4, width=2)[0]
    assert right["is_correct"] and right["answer"] == "(2 * 3) * 4"
    wrong = beam_search(StepTable(), _prefers("2 + 3 =", "+ 4"), task, [problem], ["Q:"], n=4, width=2)[0]
    assert not wrong["is_correct"] and wrong["answer"] == "(2 + 3) + 4"
    # Every generated token counts: 4 starts + 2 beams x 2 continuations, 3 tokens each.
    assert right["tokens"] == (4 + 4) * 3 and right["finished"] >= 2


def test_beam_search_sends_every_problem_of_a_round_in_one_call():
    task = make_task({"name": "countdown"})
    problems = [Problem(key=str(i), payload={"nums": [2, 3, 4], "target": 24}, split="test") for i in range(3)]
    policy = StepTable()
    calls = []
    original = policy.generate
    policy.generate = lambda reqs: calls.append(len(reqs)) or original(reqs)
    found = beam_search(policy, _prefers("2 * 3 =", "* 4"), task, problems, ["Q:"] * 3, n=4, width=2)
    assert len(found) == 3 and all(r["is_correct"] for r in found)
    # Round 0: one request (n=4) per problem; round 1: one per kept beam (2 per problem), in one call.
    assert calls == [3, 6]
