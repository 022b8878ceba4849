"""What every backend's settings dataclass shares: the range checks behind `policy.<option>`
messages, the type check of a config value against a field's annotation, and `build_settings`,
which turns a `policy` config into the dataclass with one-line errors.

A backend's settings live in a module that imports no engine (`hf_settings.py` beside `hf.py`),
so that a config is checked before torch, transformers or vllm load. Their fields are the
backend's options, in its constructor's order, each with a docstring (TRL style); their checks
run on construction, so a backend built from keyword arguments is checked the same way.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

# option -> (accepts a value, what a good value is): "policy.<option> must be <what>, got <value>".
Checks = dict[str, tuple[Callable[[Any], bool], str]]
# option -> (least, most, unit): "policy.<option> must be in [least, most]<unit>, got <value>".
Ranges = dict[str, tuple[float, float, str]]

# Upper ends shared by the backends, which only catch slips. Context: 10M tokens is the longest any
# published model reads (Llama 4 Scout). Batch: 65,536 sequences exceed any device's memory. Waiting: an
# hour per call is no test's or benchmark's engine (and time.sleep overflows near 2**63 ns).
CONTEXT_TOKENS = (1, 10_000_000, " tokens")
BATCH_SEQUENCES = (1, 65_536, " sequences")
WAIT_SECONDS = (0, 3_600, " seconds")


@dataclass
class BackendSettings:
    """Base of the backends' settings: `validate` runs on construction, `check_task` when the task is known."""

    checks: ClassVar[Checks] = {}
    """The range checks of the options, run by `validate` on every value that is not null."""
    ranges: ClassVar[Ranges] = {}
    """Where `checks` pass, the range of each count and rate (least, most, unit): the upper ends catch
    slips (an extra zero, 1e9) that would run for days or overflow a timer; each class says why its numbers."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """ValueError naming `policy.<option>` for a value the backend cannot work with (`checks`, `ranges`)."""
        for name, (accepts, what) in self.checks.items():
            require(self, name, accepts, what)
        for name, (least, most, unit) in self.ranges.items():
            value = getattr(self, name)
            if value is not None and not least <= value <= most:
                raise ValueError(f"policy.{name} must be in [{least:,g}, {most:,g}]{unit}, got {value!r}")

    def check_task(self, task: Any) -> None:
        """ValueError when the backend cannot work with `task` (run at config time, before anything is written)."""


def require(settings: BackendSettings, name: str, accepts: Callable[[Any], bool], what: str) -> None:
    """ValueError "policy.<name> must be <what>, got <value>" unless the option is null or accepted."""
    value = getattr(settings, name)
    if value is not None and not accepts(value):
        raise ValueError(f"policy.{name} must be {what}, got {value!r}")


def at_least(bound: int) -> Callable[[Any], bool]:
    """Accepts an integer (not a bool) >= `bound`."""
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= bound


# The same words for the same kind of option in every backend.
AT_LEAST_1 = (at_least(1), "an integer >= 1")
SECONDS = (lambda v: v >= 0, "a number of seconds >= 0")
POSITIVE_SECONDS = (lambda v: v > 0, "a number of seconds > 0")
PROBABILITY = (lambda v: 0 <= v <= 1, "a probability in [0, 1]")

_TYPES: dict[str, Callable[[Any], bool]] = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "None": lambda v: v is None,
    "dict": lambda v: isinstance(v, Mapping),
    "list": lambda v: isinstance(v, Sequence) and not isinstance(v, (str, bytes)),
}


def type_ok(value: Any, annotation: Any) -> bool:
    """Whether `value` fits a simple annotation such as `int`, `float`, `str | None`, `dict[str, Any] | None`
    (the fields' annotations are strings: the modules use `from __future__ import annotations`)."""
    if not isinstance(annotation, str):
        return True
    for part in annotation.split("|"):
        check = _TYPES.get(part.strip().split("[", 1)[0])
        if check is None or check(value):  # an annotation this reader does not know accepts anything
            return True
    return False


def option_names(cls: type) -> list[str]:
    """The options of a settings class, in order."""
    return [f.name for f in dataclasses.fields(cls)]


def _required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def build_settings(cls: type, options: Mapping[str, Any], backend: str) -> BackendSettings:
    """`cls(**options)` for backend `backend`, with ValueError naming `policy.<option>` for an
    unknown or missing option, a `???` value, a value of the wrong type, or one the checks refuse."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(options) - set(fields))
    if unknown:
        names = ", ".join(f"policy.{name}" for name in unknown)
        raise ValueError(f"{names}: unknown option for backend {backend!r}; its options are {list(fields)}")
    for name, f in fields.items():
        if _required(f) and (name not in options or options[name] in (None, "???")):
            raise ValueError(f"policy.{name} is required by backend {backend!r}: set policy.{name}=...")
    for name, value in options.items():
        if value == "???":
            raise ValueError(f"policy.{name} is not set (???): set policy.{name}=...")
        if not type_ok(value, fields[name].type):
            raise ValueError(f"policy.{name} must be {fields[name].type}, got {value!r}")
    return cls(**options)


def settings_from(cls: type, args: tuple, options: dict[str, Any]) -> Any:
    """What a backend's constructor was given as its settings: one `cls` object, or `cls`'s fields as
    arguments (`HFPolicy(HFSettings(model=m))` and `HFPolicy(m)` build the same policy)."""
    if len(args) == 1 and not options and isinstance(args[0], cls):
        return args[0]
    return cls(*args, **options)
