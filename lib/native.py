"""OS threads, locks and queues that stay native in a gevent-patched process.

The real CTP library calls back from its own OS threads; the sim must do the same even after
`gevent.monkey.patch_all()` has turned `threading` green. So everything here is taken from the
original, unpatched modules.
"""

from __future__ import annotations

import _queue
import importlib
import traceback
from collections.abc import Callable
from typing import Any


def _original(module: str, name: str) -> Any:
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a dependency, but the sim does not need it
        return getattr(importlib.import_module(module), name)
    return monkey.get_original(module, name)


start_new_thread: Callable[..., int] = _original("_thread", "start_new_thread")
allocate_lock: Callable[[], Any] = _original("_thread", "allocate_lock")
RLock: Callable[[], Any] = _original("_thread", "RLock")
get_ident: Callable[[], int] = _original("_thread", "get_ident")
monotonic: Callable[[], float] = _original("time", "monotonic")
sleep: Callable[[float], None] = _original("time", "sleep")
# The C SimpleQueue: put never blocks; get blocks only the (native) thread that calls it.
SimpleQueue = _queue.SimpleQueue

_STOP = object()


class NativeEvent:
    """A one-shot flag a native thread can wait on with a timeout."""

    def __init__(self) -> None:
        self._lock = allocate_lock()
        self._lock.acquire()
        self._set = False

    def set(self) -> None:
        if not self._set:
            self._set = True
            self._lock.release()

    def is_set(self) -> bool:
        return self._set

    def wait(self, timeout: float | None = None) -> bool:
        if self._set:
            return True
        got = self._lock.acquire(True, -1 if timeout is None else max(timeout, 0.0))
        if got:
            self._lock.release()
        return got or self._set


class CallbackThread:
    """Runs posted calls in order on one OS thread of its own, like a CTP API object's thread.

    Exceptions raised by a call are printed and swallowed, as the real binding does with
    exceptions raised in a Spi callback.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._queue: Any = SimpleQueue()
        self._finished = NativeEvent()
        self.ident = 0
        start_new_thread(self._run, ())

    def post(self, function: Callable[..., Any], *args: Any) -> None:
        self._queue.put((function, args))

    def stop(self, wait: float | None = 5.0) -> bool:
        """Stop after the calls already posted; returns False if it did not finish in time."""
        self._queue.put(_STOP)
        if wait is None or self.on_thread():
            return True
        return self._finished.wait(wait)

    def on_thread(self) -> bool:
        return get_ident() == self.ident

    def _run(self) -> None:
        self.ident = get_ident()
        get = self._queue.get
        try:
            while True:
                item = get()
                if item is _STOP:
                    return
                function, args = item
                try:
                    function(*args)
                except BaseException:  # noqa: BLE001 - the binding prints and swallows too
                    traceback.print_exc()
        finally:
            self._finished.set()
