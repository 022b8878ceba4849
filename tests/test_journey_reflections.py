"""Reflection and return lines: concrete facts from the tree, varied wording, seeded choice."""
from __future__ import annotations

import random
import re

from search.tasks.base import DEAD_END, INVALID
from tests.linearize_trees import countdown_task, tree_1357
from traces.journey import JourneyConfig, linearize_journey
from traces.reflections import (
    DEAD_END_TEMPLATES,
    GENERIC_RETURN_TEMPLATES,
    GENERIC_TEMPLATES,
    INVALID_TEMPLATES,
    RETURN_TEMPLATES,
    TemplateReflector,
)

TASK = countdown_task()
ARITH = {"label": INVALID, "reason": "9 * 8 is 72, not 64", "text": "9 * 8 = 64. Left: 3, 64"}
DEAD = {"label": DEAD_END, "reason": "3, 64 cannot make 22", "text": "9 * 8 = 72. Left: 3, 72"}
GOOD = {"nums": [3, 8, 9], "exprs": ["3", "8", "9"], "target": 22}


def test_template_pools_hold_at_least_eight_distinct_wordings():
    for pool, slot in ((INVALID_TEMPLATES, "{reason}"), (DEAD_END_TEMPLATES, "{reason}"), (RETURN_TEMPLATES, "{state}")):
        assert len(set(pool)) >= 8
        assert all(t.count(slot) == 1 for t in pool)


def test_reflection_states_the_concrete_reason():
    reflect = TemplateReflector(TASK)
    rng = random.Random(0)
    for failure in (ARITH, DEAD):
        for _ in range(20):
            reflection, back = reflect(failure, GOOD, rng)
            assert failure["reason"] in reflection
            assert "3, 8, 9" in back


def test_reflection_pool_matches_the_kind_of_mistake():
    reflect = TemplateReflector(TASK)
    arith = {reflect(ARITH, GOOD, random.Random(s))[0] for s in range(40)}
    dead = {reflect(DEAD, GOOD, random.Random(s))[0] for s in range(40)}
    assert arith <= {t.format(reason=ARITH["reason"]) for t in INVALID_TEMPLATES}
    assert dead <= {t.format(reason=DEAD["reason"]) for t in DEAD_END_TEMPLATES}
    assert len(arith) >= 4 and len(dead) >= 4  # the rng really varies the wording


def test_reflection_never_invents_numbers():
    reflect = TemplateReflector(TASK)
    allowed = set(re.findall(r"\d+", ARITH["reason"])) | {"3", "8", "9"}
    for s in range(50):
        reflection, back = reflect(ARITH, GOOD, random.Random(s))
        assert set(re.findall(r"\d+", reflection + back)) <= allowed


def test_reflection_without_a_stored_reason_falls_back_without_numbers():
    reflection, back = TemplateReflector(TASK)({"label": INVALID, "reason": None}, None, random.Random(1))
    assert not re.search(r"\d", reflection + back)
    # No reason and no state: a generic check (no claimed fact) and a generic return line.
    assert reflection in GENERIC_TEMPLATES
    assert back in GENERIC_RETURN_TEMPLATES


def test_describe_state_lists_the_numbers_left():
    assert TASK.describe_state(GOOD) == "3, 8, 9"


def test_journey_reflections_come_from_the_pool_and_follow_the_seed():
    cfg = JourneyConfig(select="plausible")
    [a] = linearize_journey(tree_1357(), TASK, cfg)
    [b] = linearize_journey(tree_1357(), TASK, cfg)
    assert a["lines"] == b["lines"]
    reflection, back = a["lines"][1], a["lines"][2]
    assert reflection in {t.format(reason="3, 5, 6 cannot make 22") for t in DEAD_END_TEMPLATES}
    assert back in {t.format(state="1, 3, 5, 7") for t in RETURN_TEMPLATES}
    wordings = {tuple(linearize_journey(tree_1357(), TASK, JourneyConfig(select="plausible", seed=s))[0]["lines"])
                for s in range(8)}
    assert len(wordings) > 1
