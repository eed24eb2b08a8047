"""The hand-off from native CTP threads to the server's gevent loop.

Callbacks of the CTP library (and of the sim) run on OS threads the event loop does not own. They
copy their data into plain objects and `put` them here; one consumer greenlet applies them to the
engine in arrival order. Nothing polls: a producer appends to a deque (atomic under the GIL) and
pokes a libev/libuv async watcher, whose `send` is the one loop operation safe from any thread.

Market data may come faster than the consumer can apply it (a full market on a slow machine): an
unbounded queue then grows the process's memory and the age of everything behind it without end.
So items handed over with `put_latest` (ticks) are merged once CONFLATE_AT items wait: from then on
only the newest of each key (instrument) waits, in one dict that takes its turn at the place in the
queue where merging began, and the queue stays bounded. Orders, trades and every other `put` item
are never merged or dropped. A merged tick loses nothing a bar needs (volume, turnover and the day's
high and low are cumulative in the next one); strategies and the display see fewer ticks.
"""

from __future__ import annotations

import collections
import logging
import sys
from collections.abc import Callable
from typing import Any

import gevent
from gevent.event import Event

from lib.native import allocate_lock

log = logging.getLogger(__name__)
YIELD_EVERY = 500  # let other greenlets (sockets, HTTP) run during a burst
CONFLATE_AT = 100_000  # items waiting from which `put_latest` items are merged per key
_MERGED = object()  # the place in the queue where the merged items take their turn


class Bridge:
    """Many producer threads, one consumer greenlet; order and completeness are preserved."""

    def __init__(
        self,
        consumer: Callable[[Any], None],
        name: str = "bridge",
        merge_key: Callable[[Any], Any] = id,
        conflate_at: int = CONFLATE_AT,  # 0: never merge
    ) -> None:
        self._consumer = consumer
        self._items: collections.deque[Any] = collections.deque()
        self._merge_key = merge_key
        self._latest: dict[Any, Any] = {}  # merged items waiting for their turn, by key
        self._lock = allocate_lock()  # a native lock: producers are OS threads, the consumer the loop
        self.conflate_at = conflate_at if conflate_at > 0 else sys.maxsize
        self.merged = 0  # items replaced by a newer one of their key before they were applied
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

    def put_latest(self, item: Any) -> None:
        """Hand over an item that a newer one of its key may replace while the queue is backed up.

        Callable from any thread, never blocks. A key's items must come from one thread (a market data
        callback thread): they are applied in order, older ones merged away only under a backlog.
        """
        items = self._items
        if not self._latest and len(items) < self.conflate_at:
            items.append(item)
        else:
            with self._lock:
                latest = self._latest
                if not latest:
                    items.append(_MERGED)
                key = self._merge_key(item)
                if key in latest:
                    self.merged += 1
                latest[key] = item
        self._watcher.send()

    @property
    def backlog(self) -> int:
        return len(self._items) + len(self._latest)

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
            if item is _MERGED:  # the merged items' turn: they go first, in the order their keys came
                with self._lock:
                    latest, self._latest = self._latest, {}
                items.extendleft(reversed(latest.values()))
                continue
            try:
                self._consumer(item)
            except Exception:  # a bad event must not stop the flow of the others
                log.exception("bridge consumer failed on %r", type(item).__name__)
            self.delivered += 1
            handled += 1
            if handled % YIELD_EVERY == 0:
                gevent.sleep(0)
