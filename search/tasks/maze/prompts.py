"""Maze prompt texts: the question, few-shot completions and chat instructions.

The maze is shown one row per line, one character per cell (`#` wall, `.` open, `S` start, `G`
goal), so that a tokenizer that reads punctuation one character at a time (the laboratory's
students) sees one token per cell and each row at a fixed place.
"""
from __future__ import annotations

from functools import lru_cache

from search.tasks.base import THINK_CLOSE, THINK_OPEN, Problem
from search.tasks.maze.answer import format_answer
from search.tasks.maze.grid import WALL, endpoints, name, neighbours, path_names, rows_of, shortest_path, size_of

N_EXAMPLES = 2
SYSTEM = "You find shortest paths through grid mazes, one move at a time."
RULES = ("Find a shortest path from S to G. # is a wall and . is an open cell; a move goes one cell up, down, "
         "left or right onto an open cell, and never back onto a cell the path already visited.")
FORMAT = ("Think inside <think> </think>, writing one move per line as the cell you move to, in the form `r2c3` "
          "(row 2, column 3). Then write the whole path inside <answer> </answer>: every cell from S to G, "
          "separated by spaces.")


def question(maze: str, maze_format: str = "grid") -> str:
    """`grid`: `Maze 6x6:\\nS..#..\\n...\\n`, the maze one row a line. `cells`: `Maze 6x6 from r1c1
    to r6c6:\\nr1c1: r1c2 r2c1\\n...`, every open cell in reading order with its open neighbours."""
    size = size_of(maze)
    if maze_format == "grid":
        return f"Maze {size}x{size}:\n" + "\n".join(rows_of(maze)) + "\n"
    start, goal = endpoints(maze)
    lines = [f"{name(cell, size)}: " + " ".join(name(n, size) for n in neighbours(cell, size) if maze[n] != WALL)
             for cell in range(size * size) if maze[cell] != WALL]
    return f"Maze {size}x{size} from {name(start, size)} to {name(goal, size)}:\n" + "\n".join(lines) + "\n"


def worked_example(maze: str, maze_format: str = "grid") -> str:
    """One solved maze in the exported frame: question, `<think>` moves, `<answer>` path."""
    path = shortest_path(maze)
    size = size_of(maze)
    moves = "\n".join(name(c, size) for c in path[1:])
    return (question(maze, maze_format) + f"{THINK_OPEN}\n{moves}\n{THINK_CLOSE}\n" + format_answer(path_names(path, size)))


@lru_cache(maxsize=16)
def example_mazes(size: int) -> tuple[str, ...]:
    """Fixed solved examples per size (train split, never a test maze): one prefix for every prompt."""
    from search.tasks.maze.settings import MazeConfig
    from search.tasks.maze.generator import generate_problems

    cfg = MazeConfig(size=size, n_train=N_EXAMPLES + 1, n_test=0, seed=12345, test_fraction=0.2)
    return tuple(p.payload["maze"] for p in generate_problems(cfg))


def fewshot_prompt(problem: Problem, maze_format: str = "grid") -> str:
    """Two worked mazes of the problem's size, then the problem and `<think>\\n`."""
    maze = problem.payload["maze"]
    shots = [m for m in example_mazes(size_of(maze)) if m != maze][:N_EXAMPLES]
    blocks = [worked_example(m, maze_format) for m in shots]
    return "\n\n".join(blocks) + "\n\n" + question(maze, maze_format) + f"{THINK_OPEN}\n"


def instructions(problem: Problem, maze_format: str = "grid") -> str:
    """Rules, format and the maze as one user message."""
    return f"{RULES}\n\n{FORMAT}\n\n{question(problem.payload['maze'], maze_format)}"


def chat_messages(problem: Problem, maze_format: str = "grid") -> list[dict[str, str]]:
    """System and user messages: rules, format, one worked example, then the maze."""
    maze = problem.payload["maze"]
    example = worked_example(example_mazes(size_of(maze))[0], maze_format)
    user = f"{RULES}\n\n{FORMAT}\n\nExample:\n{example}\n\nNow solve this one:\n{question(maze, maze_format)}"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
