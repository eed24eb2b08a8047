"""The serial query queue of a CTP trader session, on a native thread of its own.

CTP allows about one query a second per session and one outstanding at a time: Req* returns -2
(too many outstanding) or -3 (too many a second), and a front may answer ErrorID 90 ("not ready,
retry") right after login. The pump sends one query, waits for its last answer, keeps the pace,
and retries what the front refused — so nothing above it ever sees flow control.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable
from dataclasses import dataclass

from lib.native import NativeEvent, SimpleQueue, allocate_lock, monotonic, sleep, start_new_thread

log = logging.getLogger(__name__)
RETRYABLE_RETURNS = (-2, -3)
NOT_READY = 90
ANSWER_TIMEOUT = 10.0


@dataclass
class Query:
    name: str  # e.g. "ReqQryTradingAccount"; also the de-duplication key
    send: Callable[[int], int]  # takes a request id, returns Req*'s result


class QueryPump:
    def __init__(self, interval: float = 1.0, retry_delay: float = 1.0) -> None:
        self.interval = interval
        self.retry_delay = retry_delay
        self._lock = allocate_lock()
        self._queue: collections.deque[Query] = collections.deque()
        self._wake = SimpleQueue()
        self._answered = NativeEvent()
        self._answer_error = 0
        self._stopped = False
        self._request_id = 0
        self.sent = 0
        start_new_thread(self._run, ())

    def submit(self, query: Query) -> None:
        """Queue a query unless one of the same name is already waiting."""
        with self._lock:
            if any(waiting.name == query.name for waiting in self._queue):
                return
            self._queue.append(query)
        self._wake.put(None)

    def answered(self, error_id: int = 0) -> None:
        """The current query's last answer arrived (called from the Spi's callback thread)."""
        self._answer_error = error_id
        self._answered.set()

    def clear(self) -> None:
        """Forget queued queries (the session was lost; they will be asked again after login)."""
        with self._lock:
            self._queue.clear()
        self._answered.set()

    def stop(self) -> None:
        self._stopped = True
        self.clear()
        self._wake.put(None)

    @property
    def pending(self) -> int:
        return len(self._queue)

    def _next(self) -> Query | None:
        with self._lock:
            return self._queue[0] if self._queue else None

    def _done(self, query: Query) -> None:
        with self._lock:
            if self._queue and self._queue[0] is query:
                self._queue.popleft()

    def _run(self) -> None:
        last_sent = -1e18
        while not self._stopped:
            query = self._next()
            if query is None:
                try:
                    self._wake.get(timeout=1.0)
                except Exception:  # noqa: BLE001 - _queue.Empty: nothing queued yet
                    pass
                continue
            pause = last_sent + self.interval - monotonic()
            if pause > 0:
                sleep(pause)  # a native thread keeping the front's pace; nothing else waits on it
            self._request_id += 1
            self._answered = NativeEvent()
            result = query.send(self._request_id)
            last_sent = monotonic()
            self.sent += 1
            if result in RETRYABLE_RETURNS:
                sleep(self.retry_delay)
                continue
            if result != 0:  # -1: not connected; the session will queue again after login
                log.info("query %s not sent (%s)", query.name, result)
                self._done(query)
                continue
            if not self._answered.wait(ANSWER_TIMEOUT):
                log.warning("query %s got no answer within %ss", query.name, ANSWER_TIMEOUT)
            if self._answer_error == NOT_READY:
                sleep(self.retry_delay)
                continue
            self._done(query)
