"""The inference-time backtrack rates (justified, true, recovered) on hand-written answers."""
from __future__ import annotations

from analysis.backtracks import classify, replay, replay_rates
from search.tasks.base import Problem
from tests.linearize_trees import countdown_task

TASK = countdown_task()
PROBLEM = Problem(key="1,3,5,7->22", payload={"nums": [1, 3, 5, 7], "target": 22}, split="test", dataset="countdown")


def answer(lines: list[str], final: str) -> str:
    return TASK.render_completion(lines, final)


def test_a_justified_true_recovered_backtrack():
    text = answer(["3 + 5 = 9. Left: 1, 7, 9", "Wait, 3 + 5 is 8, not 9. That step is wrong.", "Back to 1, 3, 5, 7.",
                   "3 * 5 = 15. Left: 1, 7, 15", "15 + 7 = 22. Left: 1, 22", "22 * 1 = 22. Left: 22"],
                  "((3 * 5) + 7) * 1")
    r = replay(TASK, PROBLEM, text)
    assert (r.backtracks, r.justified, r.true_reflections, r.correct, r.recovered) == (1, 1, 1, True, True)


def test_an_unjustified_backtrack_with_an_invented_reason():
    # "3 * 5 = 15" is right: abandoning it is unjustified, and its stated reason is false.
    text = answer(["3 * 5 = 15. Left: 1, 7, 15", "Hold on, 3 * 5 is 16, not 15, so that step is a mistake.",
                   "Back to 1, 3, 5, 7.", "7 - 1 = 6. Left: 3, 5, 6"], "7 - 1")
    r = replay(TASK, PROBLEM, text)
    assert (r.backtracks, r.justified, r.true_reflections, r.correct, r.recovered) == (1, 0, 0, False, False)


def test_a_justified_backtrack_whose_reason_is_wrong_is_not_true():
    text = answer(["7 - 1 = 6. Left: 3, 5, 6", "Wait, 7 - 1 is 5, not 6. That step is wrong.", "Back to 1, 3, 5, 7."],
                  "7")
    r = replay(TASK, PROBLEM, text)
    assert (r.backtracks, r.justified, r.true_reflections) == (1, 1, 0)


def test_a_return_to_a_state_never_visited_is_not_true():
    text = answer(["7 - 1 = 6. Left: 3, 5, 6", "Hmm, 3, 5, 6 cannot make 22. I need a different step.",
                   "Back to 2, 4, 6."], "7")
    r = replay(TASK, PROBLEM, text)
    assert (r.backtracks, r.justified, r.true_reflections) == (1, 1, 0)
    ok = answer(["7 - 1 = 6. Left: 3, 5, 6", "Hmm, 3, 5, 6 cannot make 22. I need a different step.",
                 "Back to 1, 3, 5, 7."], "7")
    assert replay(TASK, PROBLEM, ok).true_reflections == 1


def test_rates_over_a_set_of_answers_and_lines_are_classified_by_the_templates():
    good = answer(["3 + 5 = 9. Left: 1, 7, 9", "Wait, 3 + 5 is 8, not 9. That step is wrong.", "Back to 1, 3, 5, 7.",
                   "3 * 5 = 15. Left: 1, 7, 15", "15 + 7 = 22. Left: 1, 22", "22 * 1 = 22. Left: 22"],
                  "((3 * 5) + 7) * 1")
    bad = answer(["3 * 5 = 15. Left: 1, 7, 15", "Wait, that is wrong: 3 * 5 is 16, not 15.", "Back to 1, 3, 5, 7."],
                 "7 - 1")
    plain = answer(["3 * 5 = 15. Left: 1, 7, 15", "Let me check: 3 * 5 = 15 checks out; 1, 7, 15 can still make 22.",
                    "15 + 7 = 22. Left: 1, 22", "22 * 1 = 22. Left: 22"], "((3 * 5) + 7) * 1")
    rates = replay_rates([replay(TASK, PROBLEM, t) for t in (good, bad, plain)])
    assert rates["answers"] == 3 and rates["with_backtrack"] == 2 and rates["backtracks"] == 2
    assert rates["justified_rate"] == 0.5 and rates["true_rate"] == 0.5 and rates["recovery_rate"] == 0.5
    assert rates["checks"] == 1
    assert classify("Back to 1, 2.")[0] == "return" and classify("3 * 5 = 15. Left: 1, 7, 15")[0] == "step"


def test_a_check_is_true_only_after_a_good_step_and_with_the_tasks_own_fact():
    true_check = "Let me check: 3 * 5 = 15 checks out; 1, 7, 15 can still make 22."
    generic = "So far this looks correct."
    good = answer(["3 * 5 = 15. Left: 1, 7, 15", true_check, "15 + 7 = 22. Left: 1, 22", generic], "(3 * 5) + 7")
    r = replay(TASK, PROBLEM, good)
    assert (r.checks, r.true_checks, r.backtracks) == (2, 2, 0)
    # After a wrong step (3 + 5 is not 9), a check is false whatever it says.
    after_mistake = answer(["3 + 5 = 9. Left: 1, 7, 9", "Verifying: 3 + 5 = 9 checks out; 1, 7, 9 can still make 22."],
                           "3 + 5")
    # A good step checked with numbers left that are not the ones it leaves.
    wrong_fact = answer(["3 * 5 = 15. Left: 1, 7, 15", "Let me check: 3 * 5 = 15 checks out; 1, 7, 16 can still make 22."],
                        "3 * 5")
    replays = [replay(TASK, PROBLEM, t) for t in (good, after_mistake, wrong_fact)]
    assert [(x.checks, x.true_checks) for x in replays[1:]] == [(1, 0), (1, 0)]
    rates = replay_rates(replays)
    assert rates["checks"] == 4 and rates["checks_per_answer"] == 4 / 3 and rates["true_check_rate"] == 0.5


def test_a_reflection_with_the_templates_words_but_other_punctuation_is_still_a_backtrack():
    # Tuned models write "That's not right. ..." for the template "That's not right: {reason}.";
    # read as a step, such a line would hide the backtrack and its (here invented) reason.
    text = answer(["3 + 5 = 9. Left: 1, 7, 9", "That's not right. 9 is not a multiple of 5.", "3 * 5 = 15. Left: 1, 7, 15"],
                  "3 * 5")
    assert classify("That's not right. 9 is not a multiple of 5.") == ("reflection", {"reason": "9 is not a multiple of 5"})
    r = replay(TASK, PROBLEM, text)
    assert (r.backtracks, r.justified, r.true_reflections, r.steps) == (1, 1, 0, 2)
    assert classify("3 + 5 = 9. Left: 1, 7, 9")[0] == "step"
