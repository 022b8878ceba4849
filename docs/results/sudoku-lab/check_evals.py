"""Independent check of a Sudoku laboratory store (imports nothing of journeyforge; Python's sqlite3 only).

For every stored eval row: is the stored `is_correct` what an independent Sudoku checker says of the
stored answer (a complete grid of the puzzle's size, every row, column and box a permutation of
1..size, every given kept)? And, per model, how the students write: the share of their placements
(`r3c5=7` lines) that are legal when written (the cell is blank and the digit is not yet in its row,
column or box, the grid replayed through the answer's own `undo` lines), the placements and undo
lines per answer, and the share of answers that state a grid at all.

    python docs/results/sudoku-lab/check_evals.py store.db [eval run name]
"""
from __future__ import annotations

import json
import re
import sqlite3
import sys
from collections import defaultdict

BOXES = {4: (2, 2), 6: (2, 3), 9: (3, 3)}
STEP = re.compile(r"^r(\d+)c(\d+)=(\d+)$")


def units(size):
    br, bc = BOXES[size]
    rows = [[r * size + c for c in range(size)] for r in range(size)]
    cols = [[r * size + c for r in range(size)] for c in range(size)]
    boxes = [[(r0 + i) * size + c0 + j for i in range(br) for j in range(bc)]
             for r0 in range(0, size, br) for c0 in range(0, size, bc)]
    return rows + cols + boxes


def solved(puzzle, grid):
    size = int(round(len(puzzle) ** 0.5))
    if not isinstance(grid, str) or len(grid) != len(puzzle):
        return False
    want = sorted(str(d) for d in range(1, size + 1))
    if any(sorted(grid[c] for c in u) != want for u in units(size)):
        return False
    return all(p == "0" or p == g for p, g in zip(puzzle, grid))


def replay(puzzle, text):
    """(legal placements, placements, undo lines) of the reasoning in `text`."""
    size = int(round(len(puzzle) ** 0.5))
    us = units(size)
    grid = list(puzzle)
    think = text.split("</think>")[0]
    legal = total = undos = 0
    for line in think.splitlines():
        line = line.strip()
        undo = line.startswith("undo ")
        m = STEP.match(line[5:] if undo else line)
        if not m:
            continue
        r, c, d = (int(x) for x in m.groups())
        if not (1 <= r <= size and 1 <= c <= size):
            total += not undo
            continue
        cell = (r - 1) * size + c - 1
        if undo:
            undos += 1
            if grid[cell] == str(d) and puzzle[cell] == "0":
                grid[cell] = "0"
            continue
        total += 1
        ok = (1 <= d <= size and grid[cell] == "0"
              and all(grid[o] != str(d) for u in us if cell in u for o in u))
        if ok:
            legal += 1
            grid[cell] = str(d)
    return legal, total, undos


def main(path, run_name=None):
    db = sqlite3.connect(path)
    runs = db.execute("select id, name from runs where stage='eval' order by id").fetchall()
    run_id = next((i for i, n in runs if run_name is None or n == run_name), None)
    rows = db.execute("select e.model, e.prediction, e.answer, e.is_correct, p.payload from evals e "
                      "join problems p on p.id = e.problem_id where e.run_id = ?", (run_id,)).fetchall()
    stats = defaultdict(lambda: [0, 0, 0, 0, 0, 0, 0])   # rows, correct, legal, placements, undos, answered, disagreements
    for model, prediction, answer, is_correct, payload in rows:
        puzzle = json.loads(payload)["puzzle"]
        mine = solved(puzzle, "".join((answer or "").split()))
        s = stats[model]
        legal, total, undos = replay(puzzle, prediction or "")
        s[0] += 1
        s[1] += mine
        s[2] += legal
        s[3] += total
        s[4] += undos
        s[5] += answer is not None
        s[6] += bool(is_correct) != mine
    print("| model | answers | solved % | legal placements % | placements / answer | undo lines / answer | "
          "states a grid % | stored is_correct disagrees |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for model in sorted(stats):
        n, ok, legal, total, undos, answered, bad = stats[model]
        print(f"| {model} | {n} | {100 * ok / n:.1f} | {100 * legal / max(total, 1):.1f} | {total / n:.1f} | "
              f"{undos / n:.2f} | {100 * answered / n:.1f} | {bad} |")
    disagreements = sum(s[6] for s in stats.values())
    print(f"\n{len(rows)} rows; the stored is_correct disagrees with the independent checker on {disagreements}")
    return disagreements


if __name__ == "__main__":
    sys.exit(1 if main(*sys.argv[1:]) else 0)
