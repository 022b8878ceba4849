"""Recompute the scan's table from the shipped store, with a Countdown checker of its own.

Every stored greedy answer is re-verified here (Python's `ast`, exact fractions: each of the problem's
numbers exactly once, + - * / only, equal to the target) and must agree with the stored `is_correct`;
then each GRPO run's accuracy on the 500 held-out problems against the SFT start's, paired bootstrap.

    gunzip -k docs/results/grpo-scan/scan.db.gz
    .venv/bin/python docs/results/grpo-scan/check.py docs/results/grpo-scan/scan.db
"""
from __future__ import annotations

import ast
import json
import sqlite3
import sys
from collections import Counter, defaultdict
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from analysis.stats import paired_difference  # noqa: E402

OPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
       ast.Div: lambda a, b: a / b}
START = "shortcut/s0"


def value(node: ast.AST, used: list[int]) -> Fraction:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        used.append(node.value)
        return Fraction(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in OPS:
        return OPS[type(node.op)](value(node.left, used), value(node.right, used))
    raise ValueError("not a + - * / expression of integers")


def solves(answer: str | None, nums: list[int], target: int) -> bool:
    if not answer:
        return False
    try:
        used: list[int] = []
        result = value(ast.parse(answer.strip(), mode="eval").body, used)
    except (SyntaxError, ValueError, ZeroDivisionError, RecursionError):
        return False
    return Counter(used) == Counter(nums) and result == target


def main(path: str) -> None:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    rows = conn.execute("SELECT e.model, e.problem_id, e.answer, e.is_correct, p.payload FROM evals e "
                        "JOIN problems p ON p.id = e.problem_id ORDER BY e.model, e.problem_id").fetchall()
    by_model: dict[str, dict[int, int]] = defaultdict(dict)
    disagree = 0
    for model, pid, answer, stored, payload in rows:
        problem = json.loads(payload)
        mine = solves(answer, problem["nums"], problem["target"])
        disagree += mine != bool(stored)
        by_model[model][pid] = int(mine)
    print(f"{len(rows)} stored answers, {disagree} disagree with the independent checker")
    start = by_model.pop(START)
    ids = sorted(start)
    base = [start[i] for i in ids]
    print(f"{START} (the SFT start): {100 * sum(base) / len(ids):.1f}% of {len(ids)}")
    arms: dict[str, list[str]] = defaultdict(list)
    for label in by_model:
        arms[label.split("/")[0]].append(label)
    for arm, labels in sorted(arms.items()):
        matrix = [[by_model[label][i] for i in ids] for label in sorted(labels)]
        d = paired_difference(matrix, base)
        acc = 100 * sum(map(sum, matrix)) / (len(ids) * len(matrix))
        print(f"{arm:18s} seeds {len(labels)}  {acc:5.1f}%  minus start {100 * d.value:+.1f} "
              f"[{100 * d.low:+.1f}, {100 * d.high:+.1f}]")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).with_name("scan.db")))
