"""JSON text for the store's JSON columns: compact, with every NaN and Infinity written as null.

Python's json writes float('nan') as `NaN`, which is not JSON: SQLite stores the text as it is, but
PostgreSQL's json type refuses it (`Token "NaN" is invalid`), so a run whose stats held one undefined
metric failed on PostgreSQL only. An undefined number is stored as null on both backends.
"""
from __future__ import annotations

import json
import math
from typing import Any

# Compact: token ids and states are most of a node's bytes. allow_nan=False makes a non-finite float
# an error, so the common, finite case costs one encode and only a value holding one is walked.
_FINITE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def finite(value: Any) -> Any:
    """A copy of `value` (dicts, lists, tuples) with every NaN or infinite float replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def finite_json(value: Any) -> str:
    """`value` as compact JSON text, with non-finite floats as null (the store's JSON serializer)."""
    try:
        return _FINITE(value)
    except ValueError:   # "Out of range float values are not JSON compliant": a NaN or an Infinity inside
        return _FINITE(finite(value))
