"""Bounded answer checking: cheap pre-checks, then math-verify in worker processes under a hard
wall-clock limit, with an LRU cache of verdicts.

Why worker processes: math-verify (sympy underneath) can take unbounded time and memory on model
text (`9^{9^{9}}` asks sympy for a 370-million-digit integer), and its own timeouts use
`signal.alarm`, which only works on a process's main thread, not in the explorer's threads. So the
parent never parses model math itself: it sends (gold, answer) to a worker over a pipe and, when
no verdict comes back in time, kills that worker, starts a fresh one, and judges the answer wrong.

The pool is one per process, started on first use (a worker is ready in about half a second),
shared by every task object and thread (one batch at a time), and shut down at exit.
"""
from __future__ import annotations

import atexit
import json
import os
import re
import select
import subprocess
import sys
import threading
import time
from collections import OrderedDict, deque
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Sequence

from search.tasks.math.answers import plain_number

POOL_SIZE = 2                 # verdicts take milliseconds; two workers keep one free while one is killed
STARTUP_SECONDS = 60.0        # a worker that is not ready by then (math-verify missing?) is an error
CACHE_SIZE = 100_000
MAX_BRACE_DEPTH = 50          # real answers nest a few levels; 10,000 nested braces stop here
MAX_EXPONENT_DIGITS = 4       # 2^{2005} is a MATH answer; 9^{99999999} is not
# TeX commands that read or write files or redefine macros: never part of an answer, and not
# something to hand to any parser.
FORBIDDEN = re.compile(
    r"\\(?:input|include|includeonly|write|read|openin|openout|immediate|def|edef|gdef|xdef|let|"
    r"newcommand|renewcommand|providecommand|catcode|csname|expandafter|usepackage|special|loop|directlua)"
    r"(?![A-Za-z])"
)
_BIG_FACTORIAL = re.compile(r"\d{%d,}\s*!" % (MAX_EXPONENT_DIGITS + 1))
_PROJECT_ROOT = str(Path(__file__).resolve().parents[3])
WORKER_MODULE = "search.tasks.math.worker"   # another task's checker speaks the same protocol (`VerifierPool(module=)`)


# -- pre-checks --------------------------------------------------------------------------------
def _exponents(text: str):
    """The exponent of every `^` in `text`: a braced group (brace-counted) or the single next character."""
    i = text.find("^")
    while i >= 0:
        j = i + 1
        while j < len(text) and text[j] == " ":
            j += 1
        if j < len(text) and text[j] == "{":
            depth, k = 0, j
            while k < len(text):
                depth += {"{": 1, "}": -1}.get(text[k], 0)
                if depth == 0:
                    break
                k += 1
            yield text[j + 1:k]
        else:
            yield text[j:j + 1]
        i = text.find("^", i + 1)


def precheck(answer: str, max_chars: int | None) -> str | None:
    """Why `answer` is rejected before any parsing (too long, nested too deep, a TeX file command,
    a power tower or huge power/factorial), or None when it may go to math-verify."""
    if max_chars is not None and len(answer) > max_chars:
        return f"answer is {len(answer):,} characters long, the limit is {max_chars}"
    depth = deepest = 0
    for ch in answer:
        if ch == "{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == "}":
            depth -= 1
    if deepest > MAX_BRACE_DEPTH:
        return f"braces nested {deepest} deep, the limit is {MAX_BRACE_DEPTH}"
    if FORBIDDEN.search(answer):
        return "answer contains a TeX file or macro command"
    for exponent in _exponents(answer):
        if "^" in exponent:
            return "answer is a power tower"
        digits = exponent.strip().replace(",", "")
        if digits.isdigit() and len(digits) > MAX_EXPONENT_DIGITS:
            return f"exponent {digits[:12]} has more than {MAX_EXPONENT_DIGITS} digits"
    if _BIG_FACTORIAL.search(answer):
        return "answer is the factorial of a huge number"
    return None


def _quick_verdict(gold: str, pred: str) -> bool | None:
    """A verdict without math-verify when the strings settle it: equal text, or two plain numbers."""
    if "".join(gold.split()) == "".join(pred.split()):
        return True
    g, p = plain_number(gold), plain_number(pred)
    if g is not None and p is not None:
        try:
            return Decimal(g) == Decimal(p)
        except InvalidOperation:
            return None
    return None


# -- the worker pool ---------------------------------------------------------------------------
class _Worker:
    """One `python -m <module>` checker process (math-verify's by default) and the bytes read from it so far."""

    def __init__(self, module: str = WORKER_MODULE) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PROJECT_ROOT, env.get("PYTHONPATH")) if p)
        # A session of its own: Ctrl-C in a terminal reaches the parent, which closes the pool.
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            env=env, close_fds=True, start_new_session=True,
        )
        self.fd = self.proc.stdout.fileno()
        self.buffer = b""
        self.ready = False
        self.started = time.monotonic()

    def send(self, gold: str, pred: str | None) -> None:
        self.proc.stdin.write((json.dumps({"gold": gold, "pred": pred}) + "\n").encode())
        self.proc.stdin.flush()

    def read(self) -> list[dict] | None:
        """The complete messages now readable; None when the worker has exited."""
        chunk = os.read(self.fd, 65536)
        if not chunk:
            return None
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        messages = []
        for line in lines:
            try:
                messages.append(json.loads(line))
            except ValueError:      # not ours (a library writing to fd 1); its job times out if need be
                continue
        return messages

    def stop(self, kill: bool = False) -> None:
        """Kill the worker (`kill`), or close its stdin and give it a second to exit on EOF."""
        if kill:
            self.proc.kill()
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5.0 if kill else 1.0)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


class VerifierPool:
    """A few worker processes, each behind its own pipe, judging (gold, answer) pairs with a hard
    time limit per pair. Thread-safe: batches from several threads run one after another."""

    def __init__(self, size: int = POOL_SIZE, module: str = WORKER_MODULE) -> None:
        self.size = size
        self.module = module
        self.workers: list[_Worker] = []
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.closed = False

    def _startup_failed(self, worker: _Worker, detail: str) -> RuntimeError:
        worker.stop(kill=True)
        return RuntimeError(f"the answer checker {self.module} could not start ({detail}); run "
                            f"`{sys.executable} -m {self.module}` to see why")

    def run(self, jobs: Sequence[tuple[str, str | None]], timeout: float) -> list[bool]:
        """The worker's verdict on each (gold, answer), its `ok` as sent (math-verify's true/false;
        answer None: whether it reads the gold as math); False for one that takes over `timeout` seconds."""
        results = [False] * len(jobs)
        if not jobs:
            return results
        with self.lock:
            if self.closed:
                raise RuntimeError("the math answer checker pool is closed")
            while len(self.workers) < self.size:
                self.workers.append(_Worker(self.module))
            try:
                self._run(jobs, timeout, results)
            except BaseException:
                # A worker may still owe a verdict; a later batch must not read it as its own.
                self._reset()
                raise
        return results

    def _run(self, jobs: Sequence[tuple[str, str | None]], timeout: float, results: list[bool]) -> None:
        """Hand jobs to ready workers, collect verdicts, kill and replace workers past their deadline."""
        pending = deque(range(len(jobs)))
        busy: dict[int, tuple[int, float]] = {}          # worker slot -> (job, deadline)
        while pending or busy:
            for slot, worker in enumerate(self.workers):
                if pending and worker.ready and slot not in busy:
                    job = pending.popleft()
                    try:
                        worker.send(*jobs[job])
                        busy[slot] = (job, time.monotonic() + timeout)
                    except OSError:           # it died after its last verdict: replace it, retry the job
                        pending.appendleft(job)
                        worker.stop(kill=True)
                        self.workers[slot] = _Worker(self.module)
            if not pending and not busy:
                break
            now = time.monotonic()
            waits = [dl for _, dl in busy.values()]
            waits += [w.started + STARTUP_SECONDS for w in self.workers if not w.ready]
            by_fd = {w.fd: slot for slot, w in enumerate(self.workers) if not w.ready or slot in busy}
            readable, _, _ = select.select(list(by_fd), [], [], max(0.0, min(waits) - now))
            for fd in readable:
                slot = by_fd[fd]
                worker = self.workers[slot]
                messages = worker.read()
                if messages is None:                  # exited (a crash in sympy, the memory cap)
                    if not worker.ready:
                        raise self._startup_failed(worker, f"exit code {worker.proc.wait()}")
                    busy.pop(slot, None)
                    worker.stop(kill=True)
                    self.workers[slot] = _Worker(self.module)
                    continue
                for message in messages:
                    if "ready" in message:
                        worker.ready = True
                    elif "error" in message:
                        raise self._startup_failed(worker, message["error"])
                    elif slot in busy:
                        job, _ = busy.pop(slot)
                        results[job] = message.get("ok") or False   # true/false, or a score
            now = time.monotonic()
            for slot, (job, deadline) in list(busy.items()):
                if now >= deadline:                   # too slow: wrong, and a fresh worker
                    busy.pop(slot)
                    self.workers[slot].stop(kill=True)
                    self.workers[slot] = _Worker(self.module)
            for worker in self.workers:
                if not worker.ready and now >= worker.started + STARTUP_SECONDS:
                    raise self._startup_failed(worker, f"not ready after {STARTUP_SECONDS:.0f} s")

    def _reset(self) -> None:
        for worker in self.workers:
            worker.stop(kill=True)
        self.workers = []

    def close(self) -> None:
        """Stop every worker (at exit; a forked child leaves its parent's workers alone)."""
        if os.getpid() != self.pid:
            return
        with self.lock:
            self.closed = True
            for worker in self.workers:
                worker.stop()
            self.workers = []


_POOLS: dict[str, VerifierPool] = {}
_POOL_LOCK = threading.Lock()


def shared_pool(module: str = WORKER_MODULE) -> VerifierPool:
    """This process's pool of `module` workers, created on first use (again after a fork: pipes are
    not shared)."""
    with _POOL_LOCK:
        pool = _POOLS.get(module)
        if pool is None or pool.pid != os.getpid() or pool.closed:
            pool = _POOLS[module] = VerifierPool(module=module)
            atexit.register(pool.close)
        return pool


# -- verdicts with a cache ---------------------------------------------------------------------
_CACHE: OrderedDict[tuple[str, str], bool] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def check_many(pairs: Sequence[tuple[str | None, str | None]], timeout: float,
               max_chars: int | None, check_gold: bool = False) -> list[bool]:
    """Whether each answer is the gold answer, by math equivalence, each judged within `timeout`
    seconds. Rejected answers (see `precheck`; the gold too with `check_gold`, for two model
    answers) and None are False. Verdicts are cached by (gold, answer)."""
    results: list[bool] = [False] * len(pairs)
    waiting: dict[tuple[str, str], list[int]] = {}
    with _CACHE_LOCK:
        for i, (gold, pred) in enumerate(pairs):
            if not isinstance(gold, str) or not isinstance(pred, str) or not gold.strip() or not pred.strip():
                continue
            if not check_gold and "".join(gold.split()) == "".join(pred.split()):
                results[i] = True           # the gold's own text is as safe as the gold
                continue
            if precheck(pred, max_chars) or (check_gold and precheck(gold, max_chars)):
                continue
            quick = _quick_verdict(gold, pred)
            if quick is not None:
                results[i] = quick
            elif (gold, pred) in _CACHE:
                _CACHE.move_to_end((gold, pred))
                results[i] = _CACHE[(gold, pred)]
            else:
                waiting.setdefault((gold, pred), []).append(i)
    if not waiting:
        return results
    keys = list(waiting)
    verdicts = shared_pool().run(keys, timeout)
    with _CACHE_LOCK:
        for key, ok in zip(keys, verdicts):
            for i in waiting[key]:
                results[i] = ok
            _CACHE[key] = ok
            _CACHE.move_to_end(key)
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return results


def check(gold: str | None, pred: str | None, timeout: float, max_chars: int | None) -> bool:
    """`check_many` of one pair."""
    return check_many([(gold, pred)], timeout, max_chars)[0]


# -- gold answers of problem files ---------------------------------------------------------------
_GOLD_CACHE: dict[str, str | None] = {}
# A gold answer is parsed once per load and its verdict drops a row, so it gets far more time than
# a model answer: MATH-500's `\\left[ \\frac{\\pi^2}{8}, ... \\right]` took 1.9 s on a loaded 2-core box.
GOLD_SECONDS = 20.0


def gold_problems(golds: Sequence[str], timeout: float = GOLD_SECONDS) -> list[str | None]:
    """Why each gold answer of a problem file cannot be a gold answer, or None when it can.

    A gold that math-verify cannot read as math (`\\frac{{{`) would judge every model answer wrong
    but its own text, so the row is bad; the pre-checks apply too (a gold is text from a file, not
    always from a trusted dataset). Plain numbers are settled here without a worker (all of GSM8K);
    the rest are parsed in the worker pool, within `timeout` seconds each (`GOLD_SECONDS`).
    """
    reasons: list[str | None] = [None] * len(golds)
    waiting: dict[str, list[int]] = {}
    for i, gold in enumerate(golds):
        if gold in _GOLD_CACHE:
            reasons[i] = _GOLD_CACHE[gold]
        elif plain_number(gold) is not None:
            continue
        elif (why := precheck(gold, None)) is not None:
            reasons[i] = why
        else:
            waiting.setdefault(gold, []).append(i)
    if waiting:
        keys = list(waiting)
        readable = shared_pool().run([(gold, None) for gold in keys], timeout)
        for gold, ok in zip(keys, readable):
            why = None if ok else f"math-verify does not read it as math (given {timeout:g} s)"
            if len(_GOLD_CACHE) >= CACHE_SIZE:
                _GOLD_CACHE.clear()
            _GOLD_CACHE[gold] = why
            for i in waiting[gold]:
                reasons[i] = why
    return reasons
