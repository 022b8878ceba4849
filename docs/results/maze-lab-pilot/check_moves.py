"""Re-check every stored maze answer and count the legal moves, importing nothing of journeyforge.

    gunzip -k store.db.gz && python check_moves.py store.db

A maze is its row-major string (`#` wall, `.` open, `S` start, `G` goal); a move names the next cell
`r<row>c<col>` (1-based). For each model: answers with an <answer> path, paths that start at S, end at
G, move only between adjacent open cells and are shortest (breadth-first distance); and, over the
<think> lines, the share of forward moves (a line that is one cell) that go to an open cell adjacent to
the cell of the line before (after `undo <cell>`, the undone cell's parent is not known here, so the
line after an undo is not counted). `is_correct` in the store must agree with the shortest-path check.
"""
import json
import re
import sqlite3
import sys
from collections import deque

CELL = re.compile(r"^r(\d+)c(\d+)$")


def parse(maze: str, size: int):
    rows = [maze[i * size:(i + 1) * size] for i in range(size)]
    find = lambda ch: next((r, c) for r in range(size) for c in range(size) if rows[r][c] == ch)
    return rows, find("S"), find("G")


def open_cell(rows, size, cell):
    r, c = cell
    return 0 <= r < size and 0 <= c < size and rows[r][c] != "#"


def shortest(rows, size, start, goal):
    dist, todo = {start: 0}, deque([start])
    while todo:
        r, c = todo.popleft()
        for nxt in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
            if open_cell(rows, size, nxt) and nxt not in dist:
                dist[nxt] = dist[(r, c)] + 1
                todo.append(nxt)
    return dist[goal]


def cells(text):
    out = []
    for word in text.split():
        m = CELL.match(word)
        if not m:
            return None
        out.append((int(m.group(1)) - 1, int(m.group(2)) - 1))
    return out


def adjacent(a, b):
    return abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1


def check(db):
    con = sqlite3.connect(db)
    rows = con.execute("select e.model, e.prediction, e.is_correct, p.payload from evals e "
                       "join problems p on p.id = e.problem_id").fetchall()
    by_model = {}
    for model, prediction, stored, payload in rows:
        p = json.loads(payload)
        size = p["size"]
        grid, start, goal = parse(p["maze"], size)
        s = by_model.setdefault(model, dict(answers=0, with_path=0, right=0, disagree=0, moves=0, legal=0))
        s["answers"] += 1
        m = re.search(r"<answer>(.*?)</answer>", prediction, re.S)
        path = cells(m.group(1)) if m else None
        ok = False
        if path:
            s["with_path"] += 1
            ok = (path[0] == start and path[-1] == goal and all(open_cell(grid, size, x) for x in path)
                  and all(adjacent(a, b) for a, b in zip(path, path[1:]))
                  and len(path) - 1 == shortest(grid, size, start, goal))
        s["right"] += ok
        s["disagree"] += bool(stored) != ok
        think = prediction.split("</think>")[0].replace("<think>", "")
        prev = start
        for line in think.strip().splitlines():
            line = line.strip()
            if line.startswith("undo"):
                prev = None
                continue
            got = cells(line)
            if not got or len(got) != 1:
                prev = None
                continue
            if prev is not None:
                s["moves"] += 1
                s["legal"] += open_cell(grid, size, got[0]) and adjacent(prev, got[0])
            prev = got[0]
    print("model | answers | with a path | right (independent) | disagree with store | forward moves | legal %")
    for model, s in sorted(by_model.items()):
        legal = 100 * s["legal"] / s["moves"] if s["moves"] else 0.0
        print(f"{model} | {s['answers']} | {s['with_path']} | {s['right']} | {s['disagree']} | {s['moves']} | {legal:.1f}")
    return sum(s["disagree"] for s in by_model.values())


if __name__ == "__main__":
    sys.exit(1 if check(sys.argv[1]) else 0)
