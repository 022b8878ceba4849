"""The grid maze task: a shortest path from S to G, one move per step (Searchformer's setting).

The state is JSON, `{"maze": "S.#...", "path": [0, 1, ...]}`. A step moves to the next cell
(`r2c3`); the exact oracle (breadth-first distances to the goal) labels a legal move a dead end as
soon as the path can no longer be a shortest one. The symbolic policy tries the unvisited open
neighbours, nearest the goal first by Manhattan distance, so best-first search over them is a greedy
search, and with the `astar` heuristic (moves so far + Manhattan distance) best-first BFS is A*. The
final answer is the path inside `<answer>...</answer>`, checked exactly: it starts at S, ends at G,
moves one open cell at a time and takes the fewest moves. Why mazes: Searchformer (Lehnert et al.
2024) trains transformers on A* traces of mazes, which beat solution-only training with 5-10x
smaller models and 10x less data.
"""
from __future__ import annotations

import random
import re
from typing import Any, Mapping

from search.tasks.base import THINK_CLOSE, Problem, StepResult, Task
from search.tasks.maze import answer as frame
from search.tasks.maze import prompts
from search.tasks.maze.settings import MazeConfig
from search.tasks.maze.generator import generate_problems, make_problem, split_of
from search.tasks.maze.grid import (WALL, endpoints, goal_distances, is_shortest_path, manhattan, name,
                                    neighbours, open_moves, parse_path, path_names, size_of)
from search.tasks.maze.problem_files import load_maze_file
from search.tasks.maze.steps import apply_step, on_shortest_path
from search.tasks.rows import ProblemFileError

_CELL = re.compile(r"r\d+c\d+")

LABEL_NOTES = """\
Every step was labelled by the task, never by a model:

- **invalid**: the line is not a move `r2c3` (or up, down, left, right), names a cell off the grid or
  not one move away, walks into a wall, or steps back onto a cell the path already visited; the node's
  `reason` says which.
- **dead_end**: a legal move after which the path can no longer be a shortest one (exact: breadth-first
  distances to the goal); the reason gives the moves it would take, or says the cell leads nowhere.
- **valid**: a legal move after which the path is still the start of a shortest path.
- **solution**: the move onto the goal on a shortest path; the `<answer>` path was then checked exactly
  (starts at S, ends at G, one open cell per move, the fewest moves).
- **wrong_answer**: the move onto the goal by a longer path."""


class MazeTask(Task):
    """Grid mazes as a search task: labelled moves, an exact oracle and an exact answer check."""

    name = "maze"
    step_delimiter = "\n"
    answer_stop = (frame.ANSWER_CLOSE,)
    answer_markers = frame.ANSWER_MARKERS
    default_value = "label"
    stream_grammar = True
    symbolic = True
    heuristics = ("manhattan", "astar")
    label_notes = LABEL_NOTES

    def __init__(self, config: MazeConfig | None = None) -> None:
        self.config = config or MazeConfig()

    # -- problems -----------------------------------------------------------------------------
    def load_problems(self) -> list[Problem]:
        """Generated mazes, or the checked lines of `config.path` (split by a hash of the maze); a maze
        listed twice is kept once."""
        cfg = self.config
        if cfg.source == "generate":
            return generate_problems(cfg)
        problems: dict[str, Problem] = {}
        for maze in load_maze_file(cfg.path, cfg.size):
            problems.setdefault(maze, make_problem(maze, split_of(maze, cfg.test_fraction), cfg.dataset))
        if not problems:
            raise ProblemFileError(f"{cfg.path}: no mazes in the file")
        return list(problems.values())

    def canonical_form(self, problem: Problem) -> str | None:
        """The maze string without whitespace or row separators, for decontamination; None for a payload
        without a `maze` string."""
        maze = problem.payload.get("maze")
        return "".join(maze.split()).replace("/", "") if isinstance(maze, str) else None

    def initial_state(self, problem: Problem) -> dict[str, Any]:
        """The maze and a path holding only the start."""
        maze = problem.payload["maze"]
        return {"maze": maze, "path": [endpoints(maze)[0]]}

    # -- prompts ------------------------------------------------------------------------------
    def question(self, problem: Problem) -> str:
        """The maze as `task.maze_format` shows it (prompts.question)."""
        return prompts.question(problem.payload["maze"], self.config.maze_format)

    def fewshot_prompt(self, problem: Problem) -> str:
        """Two worked mazes of the same size, then the maze, ending in `<think>\\n`."""
        return prompts.fewshot_prompt(problem, self.config.maze_format)

    def prompt_messages(self, problem: Problem) -> list[dict[str, str]]:
        """Chat messages (system, user) with the rules, the format, a worked maze and the maze."""
        return prompts.chat_messages(problem, self.config.maze_format)

    def instructions(self, problem: Problem) -> str:
        """Rules, output format and the maze as one user message."""
        return prompts.instructions(problem, self.config.maze_format)

    # -- steps --------------------------------------------------------------------------------
    def apply_step(self, state: dict[str, Any], text: str, problem: Problem | None = None) -> StepResult:
        """Label one generated line: valid / dead_end / solution / wrong_answer / invalid (see maze.steps)."""
        return apply_step(state, text)

    def is_solvable(self, state: dict[str, Any]) -> bool | None:
        """Oracle: is the path so far still the start of a shortest path?"""
        return on_shortest_path(state)

    def legal_steps(self, state: dict[str, Any], problem: Problem | None = None) -> list[tuple[str, dict[str, Any]]]:
        """The unvisited open neighbours, nearest the goal first (Manhattan distance; ties up, down, left,
        right), as (`r2c3`, the state after it); empty at the goal or when no cell is left to go to."""
        maze, path = state["maze"], list(state["path"])
        size = size_of(maze)
        _, goal = endpoints(maze)
        if path[-1] == goal:
            return []
        moves = sorted(open_moves(maze, path), key=lambda c: manhattan(c, goal, size))  # stable: direction order
        return [(name(c, size), {"maze": maze, "path": path + [c]}) for c in moves]

    def can_continue(self, state: dict[str, Any] | None) -> bool:
        """The path has not reached the goal (a cell with no way on is expanded to no step: a dead end)."""
        if state is None or "maze" not in state:
            return False
        return state["path"][-1] != endpoints(state["maze"])[1]

    def heuristic(self, state: dict[str, Any], name: str) -> float:  # noqa: A002 - the contract's name
        """`manhattan`: the Manhattan distance to the goal; `astar`: moves so far plus that distance
        (A*'s f = g + h, so best-first BFS pops nodes in A*'s order)."""
        maze, path = state["maze"], state["path"]
        h = manhattan(path[-1], endpoints(maze)[1], size_of(maze))
        if name == "manhattan":
            return float(h)
        if name == "astar":
            return float(len(path) - 1 + h)
        raise ValueError(f"task 'maze' has heuristics {self.heuristics}, not {name!r}")

    # -- answers ------------------------------------------------------------------------------
    def final_answer(self, problem: Problem, states: list[dict[str, Any]]) -> str:
        """The last state's path, `r1c1 r1c2 ...`, when it reached the goal."""
        maze, path = states[-1]["maze"], states[-1]["path"]
        if path[-1] != endpoints(maze)[1]:
            raise ValueError(f"problem {problem.key}: the last state's path ends at {name(path[-1], size_of(maze))}, "
                             "not at the goal")
        return path_names(path, size_of(maze))

    def format_answer(self, answer: str) -> str:
        """`<answer>r1c1 r1c2 r2c2</answer>`."""
        return frame.format_answer(answer)

    def extract_answer(self, text: str) -> str | None:
        """The last complete `<answer>...</answer>`, whitespace runs made one space."""
        return frame.extract_answer(text)

    def close_answer(self, text: str, finish_reason: str | None) -> str:
        """Puts back the `</answer>` the policy stopped at."""
        return frame.close_answer(text, finish_reason)

    def verify(self, problem: Problem, answer: str | None) -> bool:
        """True iff `answer` is a shortest path: S to G, one open cell per move, the fewest moves."""
        maze = problem.payload["maze"]
        if not isinstance(answer, str) or len(answer) > 16 * len(maze):
            return False
        return is_shortest_path(maze, parse_path(answer, size_of(maze)))

    # -- words --------------------------------------------------------------------------------
    def describe_state(self, state: dict[str, Any] | None) -> str | None:
        """Where the path stands, `r3c4`: a journey's return line and the viewer's state."""
        try:
            return name(state["path"][-1], size_of(state["maze"]))
        except (KeyError, IndexError, TypeError, ValueError):
            return None

    def describe_check(self, node: Mapping[str, Any]) -> str | None:
        """"r3c4 is one move closer to the goal (5 left)"."""
        state = node.get("state") or {}
        try:
            maze, cell = state["maze"], state["path"][-1]
            left = goal_distances(maze)[cell]
            here = name(cell, size_of(maze))
        except (KeyError, IndexError, TypeError, ValueError):
            return None
        return f"{here} is the goal" if left == 0 else f"{here} is one move closer to the goal ({left} left)"

    def kept_facts(self, text: str) -> list[str]:
        """The cells `r2c3` a text names."""
        return _CELL.findall(re.sub(r"\s+", "", text))

    # -- stream of search -----------------------------------------------------------------------
    def stream_state(self, state: dict[str, Any]) -> str:
        """Where the path stands and where it goes: `r3c4 to r6c6`."""
        maze = state["maze"]
        size = size_of(maze)
        return f"{name(state['path'][-1], size)} to {name(endpoints(maze)[1], size)}"

    def stream_result(self, state: dict[str, Any]) -> str:
        """The moves so far: `5 moves` (`1 move`)."""
        moves = len(state["path"]) - 1
        return f"{moves} move" if moves == 1 else f"{moves} moves"

    def stream_operation(self, text: str) -> str:
        """The cell a line names (`r3c4`), else the line compacted."""
        found = _CELL.search(re.sub(r"\s+", "", text.strip()).lower())
        return found.group(0) if found else re.sub(r"\s+", "", text.strip())

    def stream_goal_reached(self, state: dict[str, Any]) -> str:
        """`r6c6 reached: Goal Reached`."""
        return f"{self.stream_state(state).split(' to ')[1]} reached: Goal Reached"

    # -- the scripted policy (tests and benchmarks only) ------------------------------------------
    def sample_step(self, state: dict[str, Any], rng: random.Random, error_rate: float,
                    problem: Problem | None = None) -> str:
        """A move along a shortest path with probability 1 - error_rate, else a move to a random
        neighbour (often a dead end, sometimes a wall)."""
        maze, path = state["maze"], state["path"]
        size = size_of(maze)
        dist = goal_distances(maze)
        here = path[-1]
        good = [c for c in neighbours(here, size) if maze[c] != WALL and 0 <= dist[c] < dist[here]]
        if rng.random() >= error_rate and good:
            return name(good[0], size)
        return name(rng.choice(neighbours(here, size)), size)

    def sample_rollout(self, state: dict[str, Any], rng: random.Random, error_rate: float,
                       problem: Problem | None = None) -> str:
        """Scripted moves until the goal is reached or a step fails, then the answer frame."""
        lines, current = [], state
        goal = endpoints(state["maze"])[1]
        while current["path"][-1] != goal:
            line = self.sample_step(current, rng, error_rate, problem)
            result = self.apply_step(current, line, problem)
            lines.append(line)
            if result.state is None:
                break
            current = result.state
        size = size_of(state["maze"])
        return self.join_steps(lines) + f"\n{THINK_CLOSE}\n" + frame.format_answer(path_names(current["path"], size))
