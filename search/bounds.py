"""Range checks for the counts and rates of the settings classes: one line naming the option and its bound.

Every count a stage loops over (samples per problem, optimizer steps, tokens per answer, trees at once)
has an upper bound far above any published setting, so that a slip of the keyboard (an extra zero,
`1e9` for `1e3`) is refused at config time, before anything is written, instead of running for days
or overflowing a timer. Each settings class keeps its bounds in one dict beside it, with why the number.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Tokens in one answer, completion or training example: 128K is the longest context of the common open
# models (Llama 3.1, Qwen2.5 with YaRN); beyond it no model reads or writes the sequence.
MAX_SEQUENCE_TOKENS = 131_072
# Optimizer steps of one training run: 1M steps is weeks of a GPU even for a 135M model.
MAX_TRAIN_STEPS = 1_000_000
# Examples (or completions) per device per step: 4,096 is beyond the memory of any single device for
# sequences of a few hundred tokens.
MAX_BATCH = 4_096
# LoRA rank: above 1,024 a LoRA adapter is as large as the matrices it adapts in every model up to 70B.
MAX_LORA_RANK = 1_024


def is_int(value: Any) -> bool:
    """An integer that is not a bool (YAML's `true` is not a count)."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_int(option: str, value: Any, low: int, high: int) -> None:
    """ValueError "<option> must be an integer >= low" (or "<= high") ", got <value>" unless it is one."""
    if not is_int(value) or value < low:
        raise ValueError(f"{option} must be an integer >= {low}, got {value!r}")
    if value > high:
        raise ValueError(f"{option} must be an integer <= {high:,}, got {value!r}")


def check_number(option: str, value: Any, low: float, high: float, unit: str = "") -> None:
    """ValueError "<option> must be a number in [low, high] <unit>, got <value>" unless it is one."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high
    if not ok:
        raise ValueError(f"{option} must be a number in [{low:g}, {high:g}]{' ' + unit if unit else ''}, got {value!r}")


def check_ints(prefix: str, settings: Any, bounds: Mapping[str, tuple[int, int]]) -> None:
    """`check_int` on each named field of `settings` that is not null, as `<prefix><field>`."""
    for name, (low, high) in bounds.items():
        value = getattr(settings, name)
        if value is not None:
            check_int(prefix + name, value, low, high)
