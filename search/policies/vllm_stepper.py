"""vLLM's engine stepped by one thread of its own, so that requests join the running batch as they
come: the `vllm` backend's `submit` (`explore.continuous`).

`vllm.LLM.generate` adds a batch, steps the engine until every request of it is done and returns
them all: a tree whose step came back early waits for the batch's slowest one. vLLM's scheduler
batches continuously anyway (every engine step takes the sequences it has, new ones included), so
the stepper adds each submitted request at the next step and completes its future the step it
finishes, as `vllm serve` does for HTTP requests, without a server. One thread owns the engine
from its first request on: `LLMEngine` is not safe to step from two threads.
"""
from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any


class EngineStepper:
    """Steps `engine` (a `vllm.LLMEngine`) on a daemon thread; `add` hands it a request."""

    def __init__(self, engine: Any, on_finished: Callable[[Any, Any], Any],
                 dead: Callable[[BaseException], BaseException] = lambda exc: exc) -> None:
        """`on_finished(output, context)` turns a finished `RequestOutput` into its future's result,
        on the stepper's thread; `context` is what `add` was given with the request. `dead(exc)`:
        the error every waiting and later request fails with once stepping raised `exc`."""
        self.engine = engine
        self.on_finished = on_finished
        self.dead = dead
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._ids = itertools.count()
        self._closing = False
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="vllm-stepper", daemon=True)
        self._thread.start()

    def add(self, prompt: Any, params: Any, context: Any = None) -> Future:
        """A future of `on_finished(output, context)` for one request, done the step it finishes."""
        if self._failure is not None:
            raise self._failure
        if self._closing:
            raise RuntimeError("the vLLM engine is closed")
        future: Future = Future()
        self._inbox.put((f"jf-{next(self._ids)}", prompt, params, context, future))
        return future

    def close(self) -> None:
        """Stop stepping (requests still running fail) and wait for the thread."""
        self._closing = True
        self._inbox.put(None)
        self._thread.join()

    def _run(self) -> None:
        running: dict[str, tuple[Any, Future]] = {}
        try:
            while not self._closing:
                # Block only while the engine has nothing to do: its `step` would wait for outputs.
                item = self._inbox.get() if not running else self._next_or_none()
                while item is not None:
                    request_id, prompt, params, context, future = item
                    if future.set_running_or_notify_cancel():
                        try:
                            self.engine.add_request(request_id, prompt, params)
                        except Exception as exc:   # a request the engine refuses fails alone
                            future.set_exception(self.dead(exc))
                        else:
                            running[request_id] = (context, future)
                    item = self._next_or_none()
                if self._closing or not running:
                    continue
                for output in self.engine.step():
                    if output.finished and output.request_id in running:
                        context, future = running.pop(output.request_id)
                        try:
                            future.set_result(self.on_finished(output, context))
                        except Exception as exc:
                            future.set_exception(exc)
        except BaseException as exc:   # the engine died: every waiting request fails with its error
            self._failure = self.dead(exc)
        failure = self._failure or RuntimeError("the vLLM engine was closed while the request ran")
        if running and self._failure is None:
            try:   # the engine outlives the thread until its owner shuts it down: free their slots
                self.engine.abort_request(list(running))
            except Exception:
                pass
        for _, future in running.values():
            future.set_exception(failure)
        while (item := self._next_or_none(drain=True)) is not False:
            if item is not None:
                item[-1].set_exception(failure)

    def _next_or_none(self, drain: bool = False):
        """The next request waiting (None: none; with `drain`, False once the inbox is empty)."""
        try:
            return self._inbox.get_nowait()
        except queue.Empty:
            return False if drain else None
