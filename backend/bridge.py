"""The hand-off from native CTP threads to the server's gevent loop.

Callbacks of the CTP library (and of the sim) run on OS threads the event loop does not own. They
copy their data into plain objects and `put` them here; one consumer greenlet applies them to the
engine in arrival order. Nothing polls: a producer appends to a deque (atomic under the GIL) and
pokes a libev/libuv async watcher, whose `send` is the one loop operation safe from any thread.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable
from typing import Any

import gevent
from gevent.event import Event

log = logging.getLogger(__name__)
YIELD_EVERY = 500  # let other greenlets (sockets, HTTP) run during a burst


class Bridge:
    """Many producer threads, one consumer greenlet; order and completeness are preserved."""

    def __init__(self, consumer: Callable[[Any], None], name: str = "bridge") -> None:
        self._consumer = consumer
        self._items: collections.deque[Any] = collections.deque()
        self._ready = Event()
        self._closed = False
        self._watcher = gevent.get_hub().loop.async_()
        self._watcher.start(self._ready.set)
        self._greenlet = gevent.spawn(self._run)
        self._greenlet.name = name
        self.delivered = 0

    def put(self, item: Any) -> None:
        """Hand one item over; callable from any thread, never blocks."""
        self._items.append(item)
        self._watcher.send()

    @property
    def backlog(self) -> int:
        return len(self._items)

    def close(self, drain: bool = True) -> None:
        """Stop the consumer (after applying what was already handed over, unless drain is False)."""
        if drain:
            self._drain()
        self._closed = True
        self._ready.set()
        self._greenlet.join(timeout=5)
        self._watcher.stop()
        self._watcher.close()

    def _run(self) -> None:
        while not self._closed:
            self._ready.wait()
            self._ready.clear()
            self._drain()

    def _drain(self) -> None:
        items = self._items
        handled = 0
        while items:
            item = items.popleft()
            try:
                self._consumer(item)
            except Exception:  # a bad event must not stop the flow of the others
                log.exception("bridge consumer failed on %r", type(item).__name__)
            self.delivered += 1
            handled += 1
            if handled % YIELD_EVERY == 0:
                gevent.sleep(0)
