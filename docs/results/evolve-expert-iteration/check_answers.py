"""An independent Countdown checker over the study's store: every stored answer (held-out evals and the
sampled training answers of each round) is parsed here with Python's `ast` (never evaluated as code),
computed in exact fractions, and compared with the `is_correct` journeyforge stored. Usage:

    python check_answers.py evolve.db

A sampled answer's stored `is_correct` means "kept" (its answer verified, in one well-formed trace:
evolve.keep=answer): every kept answer must be one the checker accepts; an accepted answer that was not
kept is one whose trace was malformed (counted).
"""
from __future__ import annotations

import ast
import json
import re
import sqlite3
import sys
from collections import Counter
from fractions import Fraction

OPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
       ast.Div: lambda a, b: a / b}


def value(node: ast.AST, used: list[int]) -> Fraction:
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        used.append(node.value)
        return Fraction(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in OPS:
        return OPS[type(node.op)](value(node.left, used), value(node.right, used))
    raise ValueError("not + - * / over integers")


def accepts(answer: str | None, nums: list[int], target: int) -> bool:
    """Whether `answer` is an arithmetic expression using each of `nums` exactly once that equals `target`."""
    if not answer or len(answer) > 200:
        return False
    try:
        used: list[int] = []
        result = value(ast.parse(answer, mode="eval").body, used)
    except (SyntaxError, ValueError, ZeroDivisionError, RecursionError):
        return False
    return Counter(used) == Counter(nums) and result == target


def answer_of(text: str) -> str | None:
    found = re.findall(r"<answer>(.*?)</answer>", text or "", flags=re.S)
    return found[-1].strip() if found else None


def main(path: str) -> None:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    problems = {pid: json.loads(payload) for pid, payload in db.execute("SELECT id, payload FROM problems")}
    tally = Counter()
    query = ("SELECT r.name, r.stage, e.problem_id, e.prediction, e.is_correct FROM evals e JOIN runs r ON r.id = e.run_id "
             "WHERE r.stage = 'eval'")
    for name, _, pid, prediction, stored in db.execute(query):
        p = problems[pid]
        ok = accepts(answer_of(prediction), p["nums"], p["target"])
        tally["held-out answers"] += 1
        tally["held-out answers the checker disagrees on"] += ok != bool(stored)
    query = ("SELECT s.prediction, s.is_correct, e.problem_id FROM eval_samples s JOIN evals e ON e.id = s.eval_id "
             "JOIN runs r ON r.id = e.run_id WHERE r.stage = 'sample'")
    for prediction, kept, pid in db.execute(query):
        p = problems[pid]
        ok = accepts(answer_of(prediction), p["nums"], p["target"])
        tally["sampled answers"] += 1
        tally["sampled answers kept"] += bool(kept)
        tally["kept answers the checker rejects"] += bool(kept) and not ok
        tally["answers the checker accepts that were not kept"] += ok and not kept
    for key, n in tally.items():
        print(f"{key}: {n}")


if __name__ == "__main__":
    main(sys.argv[1])
