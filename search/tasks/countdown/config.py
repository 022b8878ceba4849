"""Settings of the Countdown task (Hydra group `task`, file `conf/task/countdown.yaml`)."""
from __future__ import annotations

from dataclasses import dataclass, field

SOURCES = ("generate", "file")
PROMPT_FORMATS = ("fewshot", "chat", "question")


@dataclass
class CountdownConfig:
    """Configuration of the Countdown task (Hydra group `task`, registered as `countdown`)."""

    name: str = field(default="countdown", metadata={"help": "Registry name of the task."})
    dataset: str = field(default="countdown", metadata={"help": "Value of `problems.dataset` for these problems."})
    source: str = field(default="generate", metadata={"help": "'generate' (seeded generator) or 'file' (JSONL/Parquet at `path`)."})
    path: str | None = field(default=None, metadata={"help": "Problem file (.jsonl or .parquet) when source='file'."})
    skip_bad_rows: bool = field(default=False, metadata={"help": "Skip (and count) invalid file rows instead of failing."})
    n_numbers: int = field(default=3, metadata={"help": "Numbers per generated problem."})
    min_number: int = field(default=1, metadata={"help": "Smallest generated number."})
    max_number: int = field(default=9, metadata={"help": "Largest generated number."})
    min_target: int = field(default=10, metadata={"help": "Smallest generated target."})
    max_target: int = field(default=50, metadata={"help": "Largest generated target."})
    n_train: int = field(default=64, metadata={"help": "Generated train problems."})
    n_test: int = field(default=32, metadata={"help": "Generated test problems (held-out targets)."})
    test_fraction: float = field(default=0.2, metadata={"help": "Share of target values held out for the test split (generator and file rows without `split`)."})
    only_solvable: bool = field(default=True, metadata={"help": "Keep only problems the exact solver can solve (generator and files)."})
    seed: int = field(default=0, metadata={"help": "Generator seed."})
    prompt_format: str = field(default="fewshot", metadata={"help": "'fewshot' (plain completion with three worked examples; best for the 135M default), 'chat' (rules as chat messages) or 'question' (the bare question, for tuned models)."})

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"task.source must be one of {SOURCES}, got {self.source!r}")
        if self.source == "file" and not self.path:
            raise ValueError("task.path is required when task.source='file'")
        if self.prompt_format not in PROMPT_FORMATS:
            raise ValueError(f"task.prompt_format must be one of {PROMPT_FORMATS}, got {self.prompt_format!r}")
        if self.n_numbers < 2:
            raise ValueError(f"task.n_numbers must be at least 2, got {self.n_numbers}")
        if not 0 <= self.min_number <= self.max_number:
            raise ValueError(f"task.min_number..max_number must satisfy 0 <= min <= max, got {self.min_number}..{self.max_number}")
        if not 0 <= self.min_target <= self.max_target:
            raise ValueError(f"task.min_target..max_target must satisfy 0 <= min <= max, got {self.min_target}..{self.max_target}")
        if not 0.0 <= self.test_fraction <= 1.0:
            raise ValueError(f"task.test_fraction must be in [0, 1], got {self.test_fraction}")
        if self.n_train < 0 or self.n_test < 0:
            raise ValueError(f"task.n_train and task.n_test must be >= 0, got {self.n_train}, {self.n_test}")
