"""Store writes off the event loop, in order, on one native thread.

SQLite and pymongo calls block the calling OS thread; on the gevent loop that would stall every
socket. The engine hands writes here and goes on; the writer applies them in the order given.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

from lib.native import NativeEvent, SimpleQueue, start_new_thread

log = logging.getLogger(__name__)
_STOP = object()


class StoreWriter:
    def __init__(self) -> None:
        self._queue: Any = SimpleQueue()
        self._finished = NativeEvent()
        self.failures = 0
        start_new_thread(self._run, ())

    def submit(self, function: Callable[..., Any], *args: Any) -> None:
        self._queue.put((function, args))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait (off the loop's critical path: shutdown, tests) until everything submitted is written."""
        done = NativeEvent()
        self._queue.put((done.set, ()))
        return _wait(done, timeout)

    def close(self, timeout: float = 10.0) -> bool:
        self._queue.put(_STOP)
        return _wait(self._finished, timeout)

    def _run(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    return
                function, args = item
                try:
                    function(*args)
                except Exception:  # noqa: BLE001 - a failed write is logged; the next ones still go
                    self.failures += 1
                    log.error(
                        "store write %s failed:\n%s", getattr(function, "__name__", function), traceback.format_exc()
                    )
        finally:
            self._finished.set()


def _wait(event: NativeEvent, timeout: float) -> bool:
    """Wait for a native event from the loop without blocking the hub (threadpool), or directly."""
    try:
        import gevent

        hub = gevent.get_hub()
        return bool(hub.threadpool.apply(event.wait, (timeout,)))
    except Exception:  # noqa: BLE001 - outside a gevent loop a plain wait is fine
        return event.wait(timeout)
