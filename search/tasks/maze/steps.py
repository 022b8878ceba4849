"""One maze step: a move to the next cell, written as that cell, `r2c3` (or as a direction, `down`).

The state is JSON, `{"maze": "S.#...", "path": [0, 1, ...]}`: the maze string and the cells visited
from the start, the last one being where the walker stands. Reading is tolerant of words around a
move and reads only up to a frame marker (`quote_model_text`). A cell off the grid, a cell that is
not one move away, a wall and a cell the path already visited are invalid, with a reason naming the
cell. The exact oracle is a breadth-first distance to the goal: a legal move keeps the path on a
shortest path when the moves so far plus the moves left equal the shortest length; any other move is
a dead end (the path can still reach the goal, never in the fewest moves), with the distance in
words, or `r3c4 is a dead end` when no unvisited cell is left to go to.
"""
from __future__ import annotations

import re
from typing import Any

from search.tasks.base import DEAD_END, INVALID, SOLUTION, VALID, WRONG_ANSWER, StepResult, quote_model_text
from search.tasks.maze.answer import ANSWER_MARKERS
from search.tasks.maze.grid import (DIRECTIONS, WALL, adjacent, endpoints, goal_distances, name, open_moves,
                                    size_of, step)

# Error kinds in `StepResult.info["error"]` for invalid steps.
UNPARSABLE, OUTSIDE, NOT_NEXT, WALL_HIT, VISITED, FINISHED = ("unparsable", "outside", "not_next", "wall",
                                                              "visited", "finished")
ERRORS = (UNPARSABLE, OUTSIDE, NOT_NEXT, WALL_HIT, VISITED, FINISHED)

_CELL_RE = re.compile(r"r\s*(\d{1,3})\s*c\s*(\d{1,3})(?!\d)", re.IGNORECASE)
_DIRECTION_RE = re.compile(r"\b(up|down|left|right)\b", re.IGNORECASE)
_UNPARSABLE_REASON = "it is not a move of the form 'r2c3' (the next cell) or up, down, left, right"


def parse_step(text: str) -> tuple[int, int] | str | None:
    """(row, column) of the first `r<row>c<col>` in `text` (1-based), else its first direction word
    (lower case), else None."""
    match = _CELL_RE.search(text)
    if match is not None:
        return int(match.group(1)), int(match.group(2))
    word = _DIRECTION_RE.search(text)
    return None if word is None else word.group(1).lower()


def _invalid(reason: str, error: str) -> StepResult:
    return StepResult(label=INVALID, state=None, reason=reason, terminal=True, reward=0.0, info={"error": error})


def target_of(parsed: tuple[int, int] | str, here: int, size: int) -> tuple[int, None] | tuple[None, StepResult]:
    """(the cell a parsed move from `here` goes to, None) or (None, the invalid result: off the grid or
    not one move away)."""
    if isinstance(parsed, str):
        cell = step(here, parsed, size)
        if cell is None:
            return None, _invalid(f"{parsed} from {name(here, size)} leaves the {size}x{size} maze", OUTSIDE)
        return cell, None
    row, col = parsed
    if not (1 <= row <= size and 1 <= col <= size):
        return None, _invalid(f"r{row}c{col} is outside the {size}x{size} maze", OUTSIDE)
    cell = (row - 1) * size + col - 1
    if not adjacent(here, cell, size):
        return None, _invalid(f"r{row}c{col} is not next to {name(here, size)} (a move goes up, down, left or "
                              "right)", NOT_NEXT)
    return cell, None


def dead_end_reason(maze: str, path: list[int], shortest: int) -> str:
    """Why a legal move left every shortest path: nowhere left to go, or the moves it still needs."""
    size = size_of(maze)
    here = name(path[-1], size)
    if not open_moves(maze, path):
        return f"{here} is a dead end"
    left = goal_distances(maze)[path[-1]]
    return f"the goal is {left} moves from {here}, so this path takes at least {len(path) - 1 + left} moves; the shortest takes {shortest}"


def apply_step(state: dict[str, Any], text: str) -> StepResult:
    """Label one generated line against `state` (see the module doc)."""
    parsed = parse_step(quote_model_text(text, ANSWER_MARKERS))
    if parsed is None:
        return _invalid(_UNPARSABLE_REASON, UNPARSABLE)
    maze, path = state["maze"], list(state["path"])
    size = size_of(maze)
    start, goal = endpoints(maze)
    here = path[-1]
    if here == goal:
        return _invalid("the path already reached the goal", FINISHED)
    cell, refused = target_of(parsed, here, size)
    if refused is not None:
        return refused
    if maze[cell] == WALL:
        return _invalid(f"{name(cell, size)} is a wall", WALL_HIT)
    if cell in path:
        return _invalid(f"{name(cell, size)} is already on the path", VISITED)
    path.append(cell)
    new = {"maze": maze, "path": path}
    line, moves = name(cell, size), len(path) - 1
    info = {"cell": line, "moves": moves}
    shortest = goal_distances(maze)[start]
    if cell == goal:
        if moves == shortest:
            return StepResult(SOLUTION, new, terminal=True, reward=1.0, step=line, info=info, final=True)
        return StepResult(WRONG_ANSWER, new, reason=f"this path reaches the goal in {moves} moves; the shortest "
                          f"takes {shortest}", terminal=True, reward=0.0, step=line, info=info, final=True)
    if moves + goal_distances(maze)[cell] != shortest:
        return StepResult(DEAD_END, new, reason=dead_end_reason(maze, path, shortest), terminal=True,
                          reward=0.0, step=line, info=info)
    return StepResult(VALID, new, step=line, info=info)


def on_shortest_path(state: dict[str, Any]) -> bool:
    """Oracle: whether the path so far is the start of a shortest path to the goal."""
    maze, path = state["maze"], state["path"]
    start, _ = endpoints(maze)
    dist = goal_distances(maze)
    return path[0] == start and dist[path[-1]] >= 0 and len(path) - 1 + dist[path[-1]] == dist[start]


__all__ = ["DIRECTIONS", "ERRORS", "apply_step", "dead_end_reason", "on_shortest_path", "parse_step"]
