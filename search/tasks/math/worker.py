"""One math-verify worker process: `python -m search.tasks.math.worker`.

Reads one JSON request per line on stdin (`{"gold": ..., "pred": ...}`), writes one JSON line per
request on stdout (`{"ok": true}`); a request whose `pred` is null asks whether math-verify reads the
gold as math at all (a problem file's gold answer is checked so as it is loaded); its first line is `{"ready": true}` once math-verify is
imported, or `{"error": ...}` when it cannot be. `verifier.py` runs a few of these and kills one
that takes too long, so nothing here needs a timeout of its own: math-verify's are turned off
(they use `signal.alarm`, which only works on a process's main thread).
"""
from __future__ import annotations

import json
import logging
import os
import resource
import sys
from functools import lru_cache

# An answer like `(9^{9999})^{9999}` makes sympy build a huge integer; with a cap on the address
# space the worker raises MemoryError (judged wrong) instead of pushing the machine into swap.
MEMORY_LIMIT_BYTES = 3 << 30


def boxed(text: str) -> str:
    """`\\boxed{text}`: math-verify reads a bare answer most reliably as a box (measured: `2\\sqrt{2}`
    unboxed parses as `2`, boxed as `2*sqrt(2)`)."""
    return "\\boxed{" + text + "}"


def main() -> int:
    """Serve requests until stdin closes."""
    # The protocol gets its own copy of the pipe; fd 1 becomes stderr, so that a stray print (from
    # Python or C code) cannot corrupt the protocol.
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    except (ValueError, OSError):
        pass
    try:
        from math_verify import parse, verify
    except Exception as err:  # noqa: BLE001 - reported to the parent, which raises it
        protocol.write(json.dumps({"error": f"cannot import math_verify: {err}"}) + "\n")
        return 1
    logging.getLogger("math_verify").setLevel(logging.ERROR)  # "timeout is disabled" on every call

    @lru_cache(maxsize=4096)
    def parsed_gold(gold: str):
        return parse(boxed(gold), parsing_timeout=None)

    def check(gold: str, pred: str) -> bool:
        g = parsed_gold(gold)
        p = parse(boxed(pred), parsing_timeout=None)
        if not g or not p:
            return False
        return bool(verify(g, p, timeout_seconds=None))   # gold first: math-verify is not symmetric

    def readable(gold: str) -> bool:
        # math-verify keeps text it cannot parse as a bare string (`\frac{{{` -> ['{\frac{{{}']):
        # a gold answer that no model answer could ever equal, except by the very same text.
        return any(not isinstance(item, str) for item in parsed_gold(gold))

    check("\\frac{1}{2}", "x=0.5")   # sympy and the LaTeX grammar load lazily: not on a job's clock
    protocol.write('{"ready": true}\n')
    for line in sys.stdin:
        try:
            request = json.loads(line)
            pred = request["pred"]
            ok = readable(request["gold"]) if pred is None else check(request["gold"], pred)
        except Exception:  # noqa: BLE001 - MemoryError, RecursionError, sympy's own: a wrong answer
            ok = False
        protocol.write('{"ok": true}\n' if ok else '{"ok": false}\n')
    return 0


if __name__ == "__main__":
    sys.exit(main())
