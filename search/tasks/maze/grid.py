"""Grid mazes as strings: cells, moves, breadth-first distances, shortest paths and path checks.

A maze is a string of size² characters in row-major order: `#` a wall, `.` an open cell, `S` the
start and `G` the goal (both open). Cells are numbered 0..size²-1; users and steps name them
`r<row>c<col>`, counted from 1. A move goes one cell up, down, left or right onto an open cell.
"""
from __future__ import annotations

import math
import re
from collections import deque
from functools import lru_cache

WALL, OPEN, START, GOAL = "#", ".", "S", "G"
CELLS = (WALL, OPEN, START, GOAL)
# Moves in the order ties are broken: the task's fixed order of directions.
DIRECTIONS = ("up", "down", "left", "right")
_DELTA = {"up": (-1, 0), "down": (1, 0), "left": (0, -1), "right": (0, 1)}
_CELL_RE = re.compile(r"r(\d{1,3})c(\d{1,3})(?!\d)")
UNREACHABLE = -1


def size_of(maze: str) -> int:
    """The side of a maze string; ValueError when its length is not a square."""
    size = math.isqrt(len(maze))
    if size < 2 or size * size != len(maze):
        raise ValueError(f"a maze string has size² cells (at least 4), not {len(maze)}")
    return size


def name(cell: int, size: int) -> str:
    """`r3c5` (1-based)."""
    return f"r{cell // size + 1}c{cell % size + 1}"


def cell_of(text: str, size: int) -> int | None:
    """The cell a name `r3c5` denotes in a `size` x `size` maze; None if it is no name or off the grid."""
    match = _CELL_RE.fullmatch(text.strip())
    if match is None:
        return None
    row, col = int(match.group(1)), int(match.group(2))
    return (row - 1) * size + col - 1 if 1 <= row <= size and 1 <= col <= size else None


def step(cell: int, direction: str, size: int) -> int | None:
    """The cell one move from `cell` in `direction`; None off the grid."""
    dr, dc = _DELTA[direction]
    r, c = divmod(cell, size)
    r, c = r + dr, c + dc
    return r * size + c if 0 <= r < size and 0 <= c < size else None


def neighbours(cell: int, size: int) -> list[int]:
    """The cells one move away (walls included), up, down, left, right."""
    return [n for d in DIRECTIONS if (n := step(cell, d, size)) is not None]


def adjacent(a: int, b: int, size: int) -> bool:
    """Whether `b` is one move from `a`."""
    return b in neighbours(a, size)


def manhattan(a: int, b: int, size: int) -> int:
    """|row difference| + |column difference|."""
    (ra, ca), (rb, cb) = divmod(a, size), divmod(b, size)
    return abs(ra - rb) + abs(ca - cb)


def rows_of(maze: str) -> list[str]:
    """The maze's rows, one string each."""
    size = size_of(maze)
    return [maze[r * size:(r + 1) * size] for r in range(size)]


@lru_cache(maxsize=4096)
def distances(maze: str, source: int) -> tuple[int, ...]:
    """Moves from `source` to every cell over open cells (breadth-first); UNREACHABLE for walls and
    cells cut off. Cached: every step of a tree asks for the goal's distances of the same maze."""
    size = size_of(maze)
    out = [UNREACHABLE] * len(maze)
    out[source] = 0
    queue = deque([source])
    while queue:
        cell = queue.popleft()
        for n in neighbours(cell, size):
            if maze[n] != WALL and out[n] == UNREACHABLE:
                out[n] = out[cell] + 1
                queue.append(n)
    return tuple(out)


def endpoints(maze: str) -> tuple[int, int]:
    """(start cell, goal cell); ValueError unless the maze has exactly one of each."""
    for mark in (START, GOAL):
        if maze.count(mark) != 1:
            raise ValueError(f"a maze has exactly one {mark}, this one {maze.count(mark)}")
    return maze.index(START), maze.index(GOAL)


def goal_distances(maze: str) -> tuple[int, ...]:
    """Moves from every cell to the goal (UNREACHABLE where there is no way)."""
    return distances(maze, maze.index(GOAL))


def shortest_length(maze: str) -> int:
    """Moves of a shortest path from S to G; UNREACHABLE when G cannot be reached."""
    start, _ = endpoints(maze)
    return goal_distances(maze)[start]


def shortest_path(maze: str) -> list[int] | None:
    """One shortest path S..G as cells (ties: the first direction in DIRECTIONS); None if G is unreachable."""
    start, goal = endpoints(maze)
    dist, size = goal_distances(maze), size_of(maze)
    if dist[start] == UNREACHABLE:
        return None
    path = [start]
    while path[-1] != goal:
        here = path[-1]
        path.append(next(n for n in neighbours(here, size) if dist[n] == dist[here] - 1 and maze[n] != WALL))
    return path


def open_moves(maze: str, path: list[int]) -> list[int]:
    """The open cells one move from the path's last cell that the path has not visited."""
    seen = set(path)
    return [n for n in neighbours(path[-1], size_of(maze)) if maze[n] != WALL and n not in seen]


def path_names(path: list[int], size: int) -> str:
    """`r1c1 r1c2 r2c2`: a path as the answer writes it."""
    return " ".join(name(c, size) for c in path)


def parse_path(text: str, size: int) -> list[int] | None:
    """The cells of an answer `r1c1 r1c2 ...` (separated by spaces, commas or arrows); None when any
    piece is not a cell of the grid."""
    pieces = [p for p in re.split(r"[\s,;]+|->|→", text.strip()) if p]
    cells = [cell_of(p, size) for p in pieces]
    return None if not cells or any(c is None for c in cells) else cells


def is_shortest_path(maze: str, path: list[int] | None) -> bool:
    """Whether `path` goes from S to G over open cells, one move at a time, in the fewest moves."""
    if not path:
        return False
    size = size_of(maze)
    start, goal = endpoints(maze)
    if path[0] != start or path[-1] != goal or any(maze[c] == WALL for c in path):
        return False
    if any(not adjacent(a, b, size) for a, b in zip(path, path[1:])):
        return False
    return len(path) - 1 == shortest_length(maze)
