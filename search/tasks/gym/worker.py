"""One reasoning-gym scoring worker process: `python -m search.tasks.gym.worker`.

The protocol of the math checker (search/tasks/math/verifier.py runs these in its worker pool and kills
one that takes too long): one JSON request a line on stdin, `{"gold": <problem spec>, "pred": <answer>}`
where the spec is the JSON text of `{"dataset", "config", "entry"}`; one line back, `{"ok": <score>}`,
the dataset's own `score_answer(pred, entry)`; the first line is `{"ready": true}` once reasoning-gym is
imported, or `{"error": ...}`.

Model text is never run as code here. Some datasets' scorers give partial credit by `eval`-ing the
answer as a Python list, or parse it with sympy (whose parser is `eval` underneath): in this process
every reasoning-gym module's `eval` reads literals only (`ast.literal_eval`), and sympy's parser takes
only arithmetic over one-letter symbols and named functions (`guarded_parse`); anything else raises,
which the scorer counts as a wrong answer. The address space is capped as in the math worker.
"""
from __future__ import annotations

import ast
import json
import os
import re
import resource
import sys
from functools import lru_cache
from typing import Any

MEMORY_LIMIT_BYTES = 3 << 30
MAX_PARSE_CHARS = 2000
# Names a math answer may use besides one-letter symbols: sympy's functions and constants.
MATH_NAMES = frozenset(
    "sin cos tan cot sec csc asin acos atan acot sinh cosh tanh asinh acosh atanh exp log ln sqrt "
    "pi oo Abs abs floor ceiling factorial binomial gamma".split())
_UNSAFE = re.compile(r"[_'\"\\\[\]{};:@#$!?~`]|\.[A-Za-z]|lambda")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")


def literal_eval(source: Any, *args: Any, **kwargs: Any) -> Any:
    """`eval` as the scorers may use it: a Python literal only (`[[1, 0], [0, 1]]`), else ValueError."""
    if args or kwargs or not isinstance(source, str):
        raise ValueError("only a literal string may be evaluated here")
    return ast.literal_eval(source.strip())


def safe_math(text: Any) -> bool:
    """Whether `text` is arithmetic over one-letter symbols, numbers and `MATH_NAMES` (no strings,
    attributes, subscripts or other names: nothing a parser built on `eval` could turn into a call)."""
    if not isinstance(text, str) or len(text) > MAX_PARSE_CHARS or _UNSAFE.search(text):
        return False
    return all(len(n) == 1 or n in MATH_NAMES for n in _NAME.findall(text))


def guard_parser(parse):
    """`parse` (sympy's `parse_expr`) refusing any text `safe_math` rejects."""
    def guarded_parse(text, *args, **kwargs):
        if not safe_math(text):
            raise ValueError("not plain arithmetic")
        return parse(text, *args, **kwargs)
    guarded_parse.__wrapped__ = parse
    return guarded_parse


def harden() -> None:
    """Literal-only `eval` in every reasoning-gym module and a guarded sympy parser everywhere it is reachable."""
    import sympy
    from sympy.parsing import sympy_parser

    original = sympy_parser.parse_expr
    guarded = guard_parser(original)
    sympy_parser.parse_expr = guarded   # sympify imports it from here at each call
    sympy.parse_expr = guarded
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] != "reasoning_gym" or module is None:
            continue
        module.__dict__["eval"] = literal_eval
        for attr, value in list(module.__dict__.items()):
            if value is original:
                module.__dict__[attr] = guarded


@lru_cache(maxsize=64)
def dataset(name: str, config_json: str):
    """The dataset whose `score_answer` scores `name`'s answers (built once per config)."""
    from reasoning_gym import create_dataset

    return create_dataset(name, seed=0, size=1, **json.loads(config_json))


def score(spec_json: str, pred: Any) -> float:
    """The dataset's own score of `pred` for the entry in `spec_json`; 0.0 for anything not a finite score."""
    spec = json.loads(spec_json)
    ds = dataset(spec["dataset"], json.dumps(spec["config"], sort_keys=True))
    value = float(ds.score_answer(pred, spec["entry"]))
    return value if 0.0 <= value <= 1.0 else 0.0


def main() -> int:
    """Serve requests until stdin closes."""
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)   # a stray print cannot corrupt the protocol
    try:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    except (ValueError, OSError):
        pass
    try:
        import reasoning_gym  # noqa: F401 - registers every dataset
        harden()
    except Exception as err:  # noqa: BLE001 - reported to the parent, which raises it
        protocol.write(json.dumps({"error": f"cannot import reasoning_gym: {err}"}) + "\n")
        return 1
    protocol.write('{"ready": true}\n')
    for line in sys.stdin:
        try:
            request = json.loads(line)
            value = score(request["gold"], request["pred"])
        except Exception:  # noqa: BLE001 - MemoryError, RecursionError, a scorer's own: a wrong answer
            value = 0.0
        protocol.write(json.dumps({"ok": value}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
