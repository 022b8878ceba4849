"""Whether the student's written steps carry its answer: of its right and its wrong sampled answers, how
many write every step legally (training/expert_samples.py `steps_valid`: each line a legal step of
Countdown from the problem's numbers, by the task's own step checker), and, independently of the task's
code, how many write a wrong sum (`a op b = c` with c not a op b, read by a regular expression).

    python docs/results/prm-own-samples/faithful.py store.db <run name> <stage>

e.g. `samples16 eval` (the held-out answers of the eval run) or `samples16 prm_sample` (the training
problems' answers the scorer learned from).
"""
from __future__ import annotations

import json
import re
import sqlite3
import sys
from fractions import Fraction

from search.tasks import make_task
from search.tasks.base import Problem
from training.expert_samples import steps_valid

STEP = re.compile(r"^\s*(\d+) ([-+*/]) (\d+) = (\d+)")


def wrong_sum(prediction: str) -> bool:
    """Some reasoning line `a op b = c` whose c is not a op b (exact fractions)."""
    think = prediction.partition("</think>")[0]
    for line in think.splitlines():
        m = STEP.match(line)
        if m:
            a, op, b, c = Fraction(m[1]), m[2], Fraction(m[3]), Fraction(m[4])
            value = {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else None}[op]
            if value != c:
                return True
    return False


def main(store: str, name: str, stage: str) -> None:
    db = sqlite3.connect(store)
    run_id, config = db.execute("SELECT id, config FROM runs WHERE name=? AND stage=?", (name, stage)).fetchone()
    task = make_task(json.loads(config)["task"])
    q = ("SELECT p.id, p.dataset, p.split, p.key, p.payload, p.answer, s.prediction, s.is_correct FROM eval_samples s "
         "JOIN evals e ON e.id = s.eval_id JOIN problems p ON p.id = e.problem_id WHERE e.run_id=?")
    counts = {True: [0, 0, 0], False: [0, 0, 0]}   # right / wrong -> [answers, all steps legal, a wrong sum]
    for pid, dataset, split, key, payload, answer, prediction, ok in db.execute(q, (run_id,)):
        problem = Problem.from_row({"id": pid, "dataset": dataset, "split": split, "key": key,
                                    "payload": json.loads(payload), "answer": answer})
        row = counts[bool(ok)]
        row[0] += 1
        row[1] += steps_valid(task, problem, prediction)
        row[2] += wrong_sum(prediction)
    print(f"run {name!r} ({stage}, id {run_id}): sampled answers by verdict")
    print("| answers | n | every step legal (task's checker) | a wrong sum (regex) |")
    print("|---|---:|---:|---:|")
    for verdict, (n, legal, wrong) in ((k, counts[k]) for k in (True, False)):
        print(f"| {'right' if verdict else 'wrong'} | {n} | {legal} ({100 * legal / max(n, 1):.1f}%) | "
              f"{wrong} ({100 * wrong / max(n, 1):.1f}%) |")


if __name__ == "__main__":
    main(*sys.argv[1:])
