"""Settings of the reasoning-gym task (Hydra group `task`, file `journeyforge/conf/task/gym.yaml`).

Every default lives here; the YAML file only names the task. The dataset name and its options are checked
against reasoning-gym's own registry and config class when the settings are built, so a typo is one line
before anything is written (reasoning-gym is imported then, not when this module is).
"""
from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from typing import Any

PROMPT_FORMATS = ("fewshot", "chat", "question")
STEP_DELIMITERS = ("\n", "\n\n")
MAX_PROBLEMS = 100_000
MAX_SHOTS = 4
# The dataset's own config has these too; here they are the task's (`task.seed`, `task.n_train`/`n_test`).
OWN_KEYS = {"seed": "task.seed", "size": "task.n_train and task.n_test"}


@dataclass
class GymConfig:
    """Configuration of the reasoning-gym task: one procedural dataset, seeded, split by a hash of the question."""

    name: str = field(default="gym", metadata={"help": "Registry name of the task."})
    dataset: str = field(default="maze", metadata={
        "help": "The reasoning-gym dataset to draw problems from (`maze`, `n_queens`, `tower_of_hanoi`, "
                "`basic_arithmetic`, ...: any name of `reasoning_gym.factory.DATASETS`); `problems.dataset` "
                "is `gym-<name>`."})
    dataset_config: dict[str, Any] = field(default_factory=dict, metadata={
        "help": "Options of that dataset's own config class, passed through as they are "
                "(`+task.dataset_config.max_dist=5`, or `'+task.dataset_config={min_dist:3,max_dist:5}'`: Hydra adds keys with `+`); `seed` and `size` are the task's own."})
    n_train: int = field(default=20, metadata={"help": f"Train problems to draw (0..{MAX_PROBLEMS})."})
    n_test: int = field(default=16, metadata={"help": f"Held-out problems to draw (0..{MAX_PROBLEMS})."})
    test_fraction: float = field(default=0.2, metadata={
        "help": "Share of questions held out (split `test`) by a hash of the question, the same for every "
                "seed and config, so no problem is ever both a train and a test problem."})
    seed: int = field(default=0, metadata={"help": "Seed of the dataset's generator (its `seed`)."})
    prompt_format: str = field(default="fewshot", metadata={
        "help": "'fewshot' (solved problems of the same dataset, never held-out ones, showing the answer "
                "frame; reasoning-gym has no worked solutions, so they show no reasoning), 'chat' (rules and "
                "the question as chat messages, for instruction-tuned models) or 'question' (the bare "
                "question, for tuned models)."})
    step_delimiter: str = field(default="\n\n", metadata={
        "help": "What ends a step: a blank line (a paragraph; answers such as a list of moves span lines) "
                "or a newline; on a command line `task.step_delimiter='\\n'` is read as a newline."})
    n_shots: int = field(default=2, metadata={"help": f"Solved examples in a few-shot prompt (0..{MAX_SHOTS})."})
    verify_timeout: float = field(default=5.0, metadata={
        "help": "Wall-clock seconds the dataset's score_answer may spend on one answer in a worker process "
                "(building the dataset there included); a slower one scores 0."})
    max_answer_chars: int = field(default=4096, metadata={
        "help": "Longer model answers score 0 without being scored."})

    def __post_init__(self) -> None:
        if self.step_delimiter in ("\\n", "\\n\\n"):
            self.step_delimiter = self.step_delimiter.replace("\\n", "\n")
        for option, value, allowed in (("prompt_format", self.prompt_format, PROMPT_FORMATS),
                                       ("step_delimiter", self.step_delimiter, STEP_DELIMITERS)):
            if value not in allowed:
                raise ValueError(f"task.{option} must be one of {list(allowed)}, got {value!r}")
        for option in ("n_train", "n_test"):
            value = getattr(self, option)
            if not 0 <= value <= MAX_PROBLEMS:
                raise ValueError(f"task.{option} must be in 0..{MAX_PROBLEMS}, got {value}")
        if self.n_train + self.n_test == 0:
            raise ValueError("task.n_train and task.n_test are both 0: nothing to draw")
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"task.test_fraction must be between 0 and 1 (exclusive), got {self.test_fraction}")
        if not 0 <= self.n_shots <= MAX_SHOTS:
            raise ValueError(f"task.n_shots must be in 0..{MAX_SHOTS}, got {self.n_shots}")
        if not self.verify_timeout > 0:
            raise ValueError(f"task.verify_timeout must be > 0 seconds, got {self.verify_timeout}")
        if self.max_answer_chars < 1:
            raise ValueError(f"task.max_answer_chars must be >= 1, got {self.max_answer_chars}")
        check_dataset(self.dataset, self.dataset_config)


def dataset_names() -> list[str]:
    """Every dataset name reasoning-gym registers (importing it: about a second)."""
    from reasoning_gym.factory import DATASETS

    return sorted(DATASETS)


def check_dataset(name: str, options: dict[str, Any]) -> None:
    """ValueError naming the option when `name` is no reasoning-gym dataset (with close matches) or
    `options` are not what its config class takes or its `validate` accepts."""
    names = dataset_names()
    if name not in names:
        close = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
        hint = f"close matches: {', '.join(close)}" if close else f"{len(names)} datasets, e.g. {', '.join(names[:6])}, ..."
        raise ValueError(f"task.dataset must be a reasoning-gym dataset, got {name!r} ({hint})")
    if not isinstance(options, dict):
        raise ValueError(f"task.dataset_config must be a mapping of {name}'s options, got {options!r}")
    from reasoning_gym.factory import DATASETS

    config_cls = DATASETS[name][1]
    known = [f.name for f in dataclasses.fields(config_cls) if f.name not in OWN_KEYS]
    for key in options:
        if key in OWN_KEYS:
            raise ValueError(f"task.dataset_config.{key} is the task's own: set {OWN_KEYS[key]} instead")
        if key not in known:
            raise ValueError(f"task.dataset_config.{key} is not an option of reasoning-gym's {name} "
                             f"(its options: {', '.join(known) or 'none'})")
    try:
        config = config_cls(**options)
        if hasattr(config, "validate"):
            config.validate()
    except Exception as err:  # noqa: BLE001 - its checks are asserts and ValueErrors of its own wording
        detail = " ".join(str(err).split()) or type(err).__name__
        raise ValueError(f"task.dataset_config is rejected by reasoning-gym's {name}: {detail}") from None
