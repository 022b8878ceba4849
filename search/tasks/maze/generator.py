"""Seeded grid mazes whose goal is reachable from the start, at least `min_moves` moves away.

Two generators:
- `perfect`: a tree of open cells grown from a random cell, Prim-style (a random frontier wall is
  opened when exactly one of its neighbours is open, so no loop ever closes): one path between any
  two open cells, and side branches that end in dead ends, which a search walks into and out of.
- `random`: each cell a wall with probability `wall_density` (Searchformer's mazes, Lehnert et al.
  2024, draw 30-50% walls); several paths and loops. A draw whose goal cannot be reached is dropped.
Start and goal are open cells drawn from the same seeded stream; a draw whose shortest path is under
`min_moves` moves is drawn again. The split is a hash of the maze, so a test maze is never a
training maze, whatever the seed or file.
"""
from __future__ import annotations

import hashlib
import random
from typing import TYPE_CHECKING

from search.tasks.base import Problem
from search.tasks.maze.grid import GOAL, OPEN, START, UNREACHABLE, WALL, distances, neighbours, path_names, shortest_path

if TYPE_CHECKING:
    from search.tasks.maze.settings import MazeConfig


def is_held_out(maze: str, test_fraction: float) -> bool:
    """Whether `maze` belongs to the test split, by a hash of the maze alone."""
    digest = hashlib.sha256(f"maze:{maze}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < test_fraction


def split_of(maze: str, test_fraction: float) -> str:
    """`"test"` for held-out mazes, `"train"` otherwise."""
    return "test" if is_held_out(maze, test_fraction) else "train"


def perfect_cells(size: int, rng: random.Random) -> list[bool]:
    """Open cells forming one tree: a frontier wall opens when exactly one neighbour is open."""
    is_open = [False] * (size * size)
    first = rng.randrange(size * size)
    is_open[first] = True
    frontier, queued = list(neighbours(first, size)), set(neighbours(first, size))
    while frontier:
        i = rng.randrange(len(frontier))
        frontier[i], frontier[-1] = frontier[-1], frontier[i]
        cell = frontier.pop()
        queued.discard(cell)
        if sum(is_open[n] for n in neighbours(cell, size)) != 1:
            continue   # opening it would close a loop (or it touches nothing open)
        is_open[cell] = True
        for n in neighbours(cell, size):
            if not is_open[n] and n not in queued:
                frontier.append(n)
                queued.add(n)
    return is_open


def random_cells(size: int, density: float, rng: random.Random) -> list[bool]:
    """Each cell open with probability 1 - `density`."""
    return [rng.random() >= density for _ in range(size * size)]


def place_endpoints(is_open: list[bool], min_moves: int, rng: random.Random) -> str | None:
    """The maze string with a goal on a random open cell and a start at least `min_moves` moves from it;
    None when no open cell is that far."""
    cells = [c for c, o in enumerate(is_open) if o]
    if len(cells) < 2:
        return None
    goal = rng.choice(cells)
    plain = "".join(OPEN if o else WALL for o in is_open)
    dist = distances(plain, goal)
    far = [c for c in cells if dist[c] != UNREACHABLE and dist[c] >= min_moves]
    if not far:
        return None
    start = rng.choice(far)
    maze = list(plain)
    maze[start], maze[goal] = START, GOAL
    return "".join(maze)


def draw(cfg: "MazeConfig", i: int) -> str | None:
    """Draw `i` of the config's stream: a maze string, or None when this draw has no start far enough."""
    rng = random.Random(f"maze-{cfg.generator}-{cfg.size}-{cfg.wall_density}-{cfg.seed}-{i}")
    if cfg.generator == "perfect":
        cells = perfect_cells(cfg.size, rng)
    else:
        cells = random_cells(cfg.size, cfg.wall_density, rng)
    return place_endpoints(cells, cfg.min_moves, rng)


def make_problem(maze: str, split: str, dataset: str) -> Problem:
    """A Problem keyed by its maze string, with one shortest path (`r1c1 r1c2 ...`) as its gold answer."""
    path = shortest_path(maze)
    if path is None:
        raise ValueError("the goal of this maze cannot be reached from its start")
    size = int(len(maze) ** 0.5)
    payload = {"maze": maze, "size": size, "moves": len(path) - 1}
    return Problem(key=maze, payload=payload, answer=path_names(path, size), split=split, dataset=dataset)


def generate_problems(cfg: "MazeConfig") -> list[Problem]:
    """`cfg.n_train` train and `cfg.n_test` test mazes, distinct, seeded by `cfg.seed`, each with a
    shortest path of at least `cfg.min_moves` moves."""
    wanted = {"train": cfg.n_train, "test": cfg.n_test}
    found: dict[str, list[Problem]] = {"train": [], "test": []}
    seen: set[str] = set()
    max_draws = 200 + 50 * (cfg.n_train + cfg.n_test)
    for i in range(max_draws):
        if all(len(found[s]) >= wanted[s] for s in wanted):
            break
        maze = draw(cfg, i)
        if maze is None or maze in seen:
            continue
        split = split_of(maze, cfg.test_fraction)
        if len(found[split]) >= wanted[split]:
            continue
        seen.add(maze)
        found[split].append(make_problem(maze, split, cfg.dataset))
    else:
        raise ValueError(
            f"generated only {len(found['train'])} of task.n_train={cfg.n_train} and {len(found['test'])} of "
            f"task.n_test={cfg.n_test} mazes in {max_draws:,} draws with task.min_moves={cfg.min_moves}: lower "
            f"task.min_moves or task.wall_density, raise task.size, or ask for fewer")
    return found["train"] + found["test"]
