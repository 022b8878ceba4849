"""The clock of a continuous-batching engine, for `policy=simulated`'s `submit` (`explore.continuous`).

vLLM admits a new sequence as soon as a slot is free and hands each request back when its last
sample ends, so a short completion does not wait for the batch's longest. This thread replays that
on the wall clock: a request's uncached prompt tokens are prefilled first-come first-served at
`prefill_tokens_per_s`; its `n` sequences then queue for one of `max_batch` slots; every running
sequence decodes at min(`sequence_tokens_per_s`, `tokens_per_s` / running sequences) tokens per
second (a fluid model: all share the aggregate rate, none beats its own decode rate). Because every
running sequence advances by the same amount, one counter (`progress`, tokens each has decoded
since the engine started) and a heap of the counter values at which sequences end make each event
O(log n): 10,000 sequences in flight cost the thread little.

`busy_seconds` is the time the engine had work (a prefill queued or a sequence decoding): the
busy share of a run is that over its wall time, as with `generate`'s batches.
"""
from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from concurrent.futures import Future
from typing import Any


class _Request:
    __slots__ = ("future", "result", "left")

    def __init__(self, future: Future, result: Any, sequences: int) -> None:
        self.future, self.result, self.left = future, result, sequences


class ContinuousEngine:
    """Completes submitted requests' futures when the engine described above would have."""

    def __init__(self, tokens_per_s: float, sequence_tokens_per_s: float, prefill_tokens_per_s: float,
                 max_batch: int) -> None:
        self.tokens_per_s = tokens_per_s
        self.sequence_tokens_per_s = sequence_tokens_per_s
        self.prefill_tokens_per_s = prefill_tokens_per_s
        self.max_batch = max_batch
        self.busy_seconds = 0.0
        self._cv = threading.Condition()
        self._waiting: deque[tuple[float, int, _Request]] = deque()  # (ready at, tokens, request), FIFO
        self._running: list[tuple[float, int, _Request]] = []         # heap of (progress at end, tie, request)
        self._tie = itertools.count()
        self._progress = 0.0
        self._last = time.perf_counter()
        self._prefill_free = self._last   # when the prefill queue is empty again
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="simulated-engine", daemon=True)
        self._thread.start()

    def add(self, result: Any, prompt_tokens: int, lengths: list[int]) -> Future:
        """A request whose answer is `result`: `prompt_tokens` uncached tokens to prefill, then one
        sequence of each of `lengths` tokens; the future gets `result` when the last one ends."""
        future: Future = Future()
        request = _Request(future, result, len(lengths))
        with self._cv:
            now = time.perf_counter()
            self._advance(now)
            ready = max(now, self._prefill_free) + prompt_tokens / self.prefill_tokens_per_s
            self._prefill_free = ready
            for n in lengths:
                self._waiting.append((ready, n, request))
            if not lengths:
                future.set_result(result)
            self._cv.notify()
        return future

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify()
        self._thread.join(timeout=5)

    def _rate(self) -> float:
        n = len(self._running)
        return min(self.sequence_tokens_per_s, self.tokens_per_s / n) if n else 0.0

    def _advance(self, now: float) -> None:
        """Move the clock to `now`: decode, end sequences, admit waiting ones (under the lock). The
        rate changes only at these events, so the steps between them are exact."""
        while True:
            rate = self._rate()
            horizon = now
            if self._running:   # the next sequence to end, if before `now`
                horizon = min(horizon, self._last + (self._running[0][0] - self._progress) / rate)
            if self._waiting and len(self._running) < self.max_batch:
                horizon = min(horizon, max(self._last, self._waiting[0][0]))
            dt = max(0.0, horizon - self._last)
            if self._running or self._prefill_free > self._last:
                self.busy_seconds += dt
            self._progress += rate * dt
            self._last = horizon
            # A sequence within a microsecond of its end ends now: a step smaller than the clock's
            # resolution would not move it.
            slack = max(1e-9, rate * 1e-6)
            while self._running and self._running[0][0] <= self._progress + slack:
                _, _, request = heapq.heappop(self._running)
                request.left -= 1
                if request.left == 0:
                    request.future.set_result(request.result)
            while self._waiting and len(self._running) < self.max_batch and self._waiting[0][0] <= self._last:
                _, tokens, request = self._waiting.popleft()
                heapq.heappush(self._running, (self._progress + tokens, next(self._tie), request))
            if horizon >= now:
                return

    def _next_event(self, now: float) -> float | None:
        """Seconds from `now` to the next sequence end or admission; None: nothing to do."""
        times = []
        if self._running:
            times.append(max(1e-6, (self._running[0][0] - self._progress) / self._rate()))
        if self._waiting and len(self._running) < self.max_batch:
            times.append(self._waiting[0][0] - now)
        return max(0.0, min(times)) if times else None

    def _loop(self) -> None:
        with self._cv:
            while not self._closed:
                now = time.perf_counter()
                self._advance(now)
                wait = self._next_event(now)
                self._cv.wait(timeout=wait)
