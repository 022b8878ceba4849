"""How the greedy answers of a store's students keep track of the numbers: for every step line
`a op b = r. Left: ...` of each answer, whether a and b are among the numbers left (operands),
whether r is right (arithmetic), and whether the `Left:` list is the numbers left after the step as
written (left). Imports nothing of journeyforge.

    python numbers_left.py store.db journey/s0 shortcut/s0
"""
import json
import re
import sqlite3
import sys
from fractions import Fraction

STEP = re.compile(r"^(\d+) ([-+*/]) (\d+) = (\d+)\. Left: ([\d, ]+)$")


def value(a, op, b):
    return {"+": a + b, "-": a - b, "*": a * b, "/": Fraction(a, b) if b else None}[op]


def numbers_left(db, model):
    n = correct = steps = operands = arithmetic = left = 0
    rows = sqlite3.connect(db).execute("select p.payload, e.prediction, e.is_correct from evals e "
                                       "join problems p on p.id = e.problem_id where e.model = ?", (model,))
    for payload, prediction, is_correct in rows:
        n, correct, state = n + 1, correct + is_correct, list(json.loads(payload)["nums"])
        for line in prediction.split("</think>")[0].split("\n"):
            m = STEP.match(line)
            if not m:
                continue
            a, op, b, r = int(m[1]), m[2], int(m[3]), int(m[4])
            written = [int(x) for x in m[5].split(", ")]
            rest, used = list(state), True
            for x in (a, b):
                used = used and x in rest
                if x in rest:
                    rest.remove(x)
            steps, operands = steps + 1, operands + used
            arithmetic += value(a, op, b) == r
            left += used and sorted(rest + [r]) == sorted(written)
            state = written   # follow the answer's own bookkeeping
    return (f"{model}: {n} answers, {correct / n:.1%} correct; {steps} steps: operands among the numbers left "
            f"{operands / steps:.1%}, arithmetic right {arithmetic / steps:.1%}, Left: list right {left / steps:.1%}")


if __name__ == "__main__":
    for model in sys.argv[2:]:
        print(numbers_left(sys.argv[1], model))
