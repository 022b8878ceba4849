"""Settings of the Countdown task (Hydra group `task`, file `journeyforge/conf/task/countdown.yaml`)."""
from __future__ import annotations

from dataclasses import dataclass, field

SOURCES = ("generate", "file")
PROMPT_FORMATS = ("fewshot", "chat", "question")
# The exact solver runs on every problem as it is loaded (gold answers, `only_solvable`) and is the
# oracle of every step; its time grows about 30-fold per number: at worst 0.15 s for 6 numbers and
# 2-4 s for 7 (measured on an unsolvable target). Rows and generator settings past these limits are
# rejected before any solver runs.
MAX_NUMBERS = 6
# Countdown's numbers and targets are small (Stream of Search: targets up to 100; the demo: 10..50);
# a 7-digit value is a wrong column, and a many-thousand-digit one cannot even be converted to int.
MAX_VALUE = 1_000_000


@dataclass
class CountdownConfig:
    """Configuration of the Countdown task (Hydra group `task`, registered as `countdown`)."""

    name: str = field(default="countdown", metadata={"help": "Registry name of the task."})
    dataset: str = field(default="countdown", metadata={"help": "Value of `problems.dataset` for these problems."})
    source: str = field(default="generate", metadata={"help": "'generate' (seeded generator) or 'file' (JSONL/Parquet at `path`)."})
    path: str | None = field(default=None, metadata={"help": f"Problem file (.jsonl or .parquet) when source='file': fields nums (1..{MAX_NUMBERS} integers in 0..{MAX_VALUE:,}), target (0..{MAX_VALUE:,}), optional split and id."})
    skip_bad_rows: bool = field(default=False, metadata={"help": "Skip (and count) invalid file rows instead of failing."})
    n_numbers: int = field(default=3, metadata={"help": f"Numbers per generated problem, 2..{MAX_NUMBERS} (the exact solver needs seconds from 7 on)."})
    min_number: int = field(default=1, metadata={"help": "Smallest generated number."})
    max_number: int = field(default=9, metadata={"help": f"Largest generated number, at most {MAX_VALUE:,}."})
    min_target: int = field(default=10, metadata={"help": "Smallest generated target."})
    max_target: int = field(default=50, metadata={"help": f"Largest generated target, at most {MAX_VALUE:,}."})
    n_train: int = field(default=64, metadata={"help": "Generated train problems."})
    n_test: int = field(default=32, metadata={"help": "Generated test problems (held-out targets), drawn after the "
                                                      "train problems from one seeded stream: runs share their held-out "
                                                      "problems when task.seed and task.n_train are the same."})
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
        if not 2 <= self.n_numbers <= MAX_NUMBERS:
            raise ValueError(f"task.n_numbers must be 2..{MAX_NUMBERS} (the exact solver takes seconds per "
                             f"problem from 7 numbers on), got {self.n_numbers}")
        for name in ("max_number", "max_target", "min_number", "min_target"):
            value = getattr(self, name)
            if abs(value) > MAX_VALUE:  # str() of a many-thousand-digit int raises: show its size instead
                shown = value if value.bit_length() < 64 else f"an integer of about {int(value.bit_length() * 0.30103) + 1:,} digits"
                raise ValueError(f"task.{name} must be at most {MAX_VALUE:,}, got {shown}")
        if not 0 <= self.min_number <= self.max_number:
            raise ValueError(f"task.min_number..max_number must satisfy 0 <= min <= max, got {self.min_number}..{self.max_number}")
        if not 0 <= self.min_target <= self.max_target:
            raise ValueError(f"task.min_target..max_target must satisfy 0 <= min <= max, got {self.min_target}..{self.max_target}")
        if not 0.0 <= self.test_fraction <= 1.0:
            raise ValueError(f"task.test_fraction must be in [0, 1], got {self.test_fraction}")
        if self.n_train < 0 or self.n_test < 0:
            raise ValueError(f"task.n_train and task.n_test must be >= 0, got {self.n_train}, {self.n_test}")
