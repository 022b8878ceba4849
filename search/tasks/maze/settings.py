"""Settings of the grid maze task (Hydra group `task`, file `journeyforge/conf/task/maze.yaml`)."""
from __future__ import annotations

from dataclasses import dataclass, field

SOURCES = ("generate", "file")
GENERATORS = ("perfect", "random")
PROMPT_FORMATS = ("fewshot", "chat", "question")
MAZE_FORMATS = ("grid", "cells")
MIN_SIZE, MAX_SIZE = 3, 30


@dataclass
class MazeConfig:
    """Configuration of the grid maze task (Hydra group `task`, registered as `maze`)."""

    name: str = field(default="maze", metadata={"help": "Registry name of the task."})
    dataset: str = field(default="maze", metadata={"help": "Value of `problems.dataset` for these problems."})
    source: str = field(default="generate", metadata={"help": "'generate' (seeded generator) or 'file' (mazes at `path`)."})
    path: str | None = field(default=None, metadata={"help": "Maze file when source='file': one maze per line, size² characters in reading order (# wall, . open, S start, G goal), rows optionally separated by '/'."})
    size: int = field(default=6, metadata={"help": f"Side of the square maze, {MIN_SIZE}..{MAX_SIZE} cells."})
    generator: str = field(default="perfect", metadata={"help": f"One of {GENERATORS}: 'perfect' grows a tree of open cells (one path between any two cells, dead-end branches to search), 'random' walls each cell with probability `wall_density` (several paths, loops)."})
    wall_density: float = field(default=0.3, metadata={"help": "Share of wall cells drawn by the 'random' generator (0..0.8)."})
    min_moves: int | None = field(default=None, metadata={"help": "Keep generated mazes whose shortest path takes at least this many moves; null: the maze's side (`size`)."})
    n_train: int = field(default=64, metadata={"help": "Generated train problems."})
    n_test: int = field(default=32, metadata={"help": "Generated test problems (held out by a hash of the maze)."})
    test_fraction: float = field(default=0.2, metadata={"help": "Share of mazes held out for the test split, by a hash of the maze (generator and file rows)."})
    seed: int = field(default=0, metadata={"help": "Generator seed."})
    maze_format: str = field(default="grid", metadata={"help": f"How a prompt shows the maze, one of {MAZE_FORMATS}: its rows (one character a cell), or the start, the goal and every open cell with its open neighbours in the steps' own words (`r1c2: r1c1 r2c2`, Searchformer's cell tokens: a move is legal when it names a neighbour listed for the current cell)."})
    prompt_format: str = field(default="fewshot", metadata={"help": "'fewshot' (two worked mazes), 'chat' (rules as chat messages) or 'question' (the bare maze, for trained students)."})

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"task.source must be one of {SOURCES}, got {self.source!r}")
        if self.source == "file" and not self.path:
            raise ValueError("task.path is required when task.source='file'")
        if self.prompt_format not in PROMPT_FORMATS:
            raise ValueError(f"task.prompt_format must be one of {PROMPT_FORMATS}, got {self.prompt_format!r}")
        if self.maze_format not in MAZE_FORMATS:
            raise ValueError(f"task.maze_format must be one of {MAZE_FORMATS}, got {self.maze_format!r}")
        if self.generator not in GENERATORS:
            raise ValueError(f"task.generator must be one of {GENERATORS}, got {self.generator!r}")
        if not MIN_SIZE <= self.size <= MAX_SIZE:
            raise ValueError(f"task.size must be {MIN_SIZE}..{MAX_SIZE}, got {self.size}")
        if not 0.0 <= self.wall_density <= 0.8:
            raise ValueError(f"task.wall_density must be in [0, 0.8] (more walls leave almost no maze with a "
                             f"way through), got {self.wall_density}")
        if self.min_moves is None:
            self.min_moves = self.size
        if not 1 <= self.min_moves <= self.size * self.size // 2:
            raise ValueError(f"task.min_moves must be 1..{self.size * self.size // 2} for a {self.size}x{self.size} "
                             f"maze, got {self.min_moves}")
        if not 0.0 <= self.test_fraction <= 1.0:
            raise ValueError(f"task.test_fraction must be in [0, 1], got {self.test_fraction}")
        if self.n_train < 0 or self.n_test < 0:
            raise ValueError(f"task.n_train and task.n_test must be >= 0, got {self.n_train}, {self.n_test}")
