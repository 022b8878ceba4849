"""An independent Countdown checker over a study store's eval rows (it imports nothing of journeyforge).

For every stored answer (greedy and sampled), it re-derives correctness from the stored text alone:
the last <answer>...</answer> of the prediction, parsed with Python's `ast` (never evaluated: only
numbers, + - * / and brackets are accepted), computed in exact fractions, using each of the problem's
numbers exactly once, and equal to the target. It prints how many rows it agrees with.

    python docs/results/experiment-cpu-lab/check_evals.py store.db
"""
from __future__ import annotations

import ast
import json
import re
import sqlite3
import sys
from collections import Counter
from fractions import Fraction

# The last complete block: its opening tag is the last one before its closing tag. A plain `<answer>(.*?)</answer>`
# (TinyZero's reading) would start at a stray `<answer>` written inside the reasoning and read
# `(1. Left: 25\n</think>\n<answer>(17 + 11) - 3` as the answer: 8 of 235,000 answers of
# docs/results/prm-own-samples have such a stray tag.
ANSWER = re.compile(r"<answer>((?:(?!<answer>).)*?)</answer>", re.S)
OPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
       ast.Div: lambda a, b: a / b}


def value(node, used: list[int]) -> Fraction:
    if isinstance(node, ast.Expression):
        return value(node.body, used)
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        used.append(node.value)
        return Fraction(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in OPS:
        left, right = value(node.left, used), value(node.right, used)
        if isinstance(node.op, ast.Div) and right == 0:
            raise ZeroDivisionError
        return OPS[type(node.op)](left, right)
    raise ValueError("not an arithmetic expression of numbers")


def correct(prediction: str, nums: list[int], target: int) -> bool:
    found = ANSWER.findall(prediction or "")
    if not found:
        return False
    text = found[-1].strip()
    if len(text) > 200:
        return False
    try:
        used: list[int] = []
        total = value(ast.parse(text, mode="eval"), used)
    except (SyntaxError, ValueError, ZeroDivisionError, RecursionError):
        return False
    return Counter(used) == Counter(nums) and total == target


def main(path: str) -> None:
    db = sqlite3.connect(path)
    agree = disagree = 0
    rows = db.execute("SELECT e.prediction, e.is_correct, p.payload FROM evals e JOIN problems p ON p.id = e.problem_id")
    for prediction, stored, payload in rows:
        p = json.loads(payload)
        ok = correct(prediction, p["nums"], p["target"])
        agree += ok == bool(stored)
        disagree += ok != bool(stored)
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    if "eval_samples" in tables:
        cols = [r[1] for r in db.execute("PRAGMA table_info(eval_samples)")]
        if {"prediction", "is_correct"} <= set(cols):
            q = ("SELECT s.prediction, s.is_correct, p.payload FROM eval_samples s JOIN evals e ON e.id = s.eval_id "
                 "JOIN problems p ON p.id = e.problem_id") if "eval_id" in cols else None
            for prediction, stored, payload in (db.execute(q) if q else []):
                p = json.loads(payload)
                ok = correct(prediction, p["nums"], p["target"])
                agree += ok == bool(stored)
                disagree += ok != bool(stored)
    print(f"{agree} of {agree + disagree} stored answers agree with the independent checker ({disagree} disagree)")
    sys.exit(1 if disagree else 0)


if __name__ == "__main__":
    main(sys.argv[1])
