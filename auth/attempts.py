"""Attempts at a secret (the access code, the account password), counted per client address BEFORE each is checked.

Why before: a limit that counts a failure only once its answer is known lets a burst of concurrent guesses
through (issue 16: 41-101 of 200 concurrent wrong codes were checked against a limit of 10 a minute). Here an
attempt takes its place in the address's window when it starts, so the eleventh attempt of a minute is refused
however many arrive at once; at most `in_flight` attempts of one address are being checked at a time; an attempt
that succeeds gives its place back (someone who logs in ten times a minute with the right code is not locked out).

Plain Python, no web framework: the Flask side is views/secret_limit.py. The bookkeeping never blocks, so one lock
(a gevent lock once monkey-patched) keeps it consistent under greenlets and real threads alike.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from types import TracebackType

WINDOW = 60.0  # seconds an attempt stays counted
PER_WINDOW = 10  # attempts per address and window
IN_FLIGHT = 2  # attempts of one address being checked at the same time
MAX_ADDRESSES = 10_000  # addresses remembered at once; the least recent ones are forgotten first beyond it


class TooManyAttempts(Exception):
    """Refused before anything was checked; `retry_after` whole seconds until an attempt may be made again."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class Attempt:
    """One counted attempt; a context manager that ends its time in flight. `succeeded()` gives its place back."""

    def __init__(self, attempts: Attempts, key: str, stamp: float) -> None:
        self._attempts = attempts
        self._key = key
        self._stamp = stamp
        self._ended = False

    def succeeded(self) -> None:
        self._attempts._refund(self._key, self._stamp)

    def end(self) -> None:
        if not self._ended:
            self._ended = True
            self._attempts._land(self._key)

    def __enter__(self) -> Attempt:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:  # fmt: skip
        self.end()


class Attempts:
    """A sliding window of counted attempts and a count in flight, per key (the client address)."""

    def __init__(self, per_window: int = PER_WINDOW, in_flight: int = IN_FLIGHT, window: float = WINDOW,
                 clock: Callable[[], float] = time.monotonic, max_addresses: int = MAX_ADDRESSES) -> None:  # fmt: skip
        self.clock = clock
        self.max_addresses = max_addresses
        self._lock = threading.Lock()
        self._counted: dict[str, deque[float]] = {}
        self._flying: dict[str, int] = {}
        self.configure(per_window, in_flight, window)

    def configure(self, per_window: int, in_flight: int, window: float = WINDOW) -> None:
        """Set the limits (the app factory, from SECRET_ATTEMPTS and SECRET_ATTEMPTS_IN_FLIGHT)."""
        if per_window < 1 or in_flight < 1 or window <= 0:
            raise ValueError("attempts: per_window and in_flight need at least 1, window more than 0")
        self.per_window, self.in_flight, self.window = per_window, in_flight, window

    def begin(self, key: str) -> Attempt:
        """Count an attempt of `key` now, or raise TooManyAttempts (nothing counted then)."""
        with self._lock:
            now = self.clock()
            counted = self._counted.pop(key, None)  # re-inserted below: the dict's order is the order of use
            if counted is None:
                self._forget_some(now)
                counted = deque()
            self._counted[key] = counted
            while counted and counted[0] <= now - self.window:
                counted.popleft()
            if self._flying.get(key, 0) >= self.in_flight:
                raise TooManyAttempts("an attempt from this address is still being checked: wait for its answer", 1)
            if len(counted) >= self.per_window:
                wait = max(1, math.ceil(counted[0] + self.window - now))
                raise TooManyAttempts(f"too many attempts: try again in {wait} s", wait)
            counted.append(now)
            self._flying[key] = self._flying.get(key, 0) + 1
            return Attempt(self, key, now)

    def reset(self) -> None:
        """Forget every address (tests start from nothing)."""
        with self._lock:
            self._counted.clear()
            self._flying.clear()

    def _refund(self, key: str, stamp: float) -> None:
        with self._lock:
            counted = self._counted.get(key)
            if counted is not None and stamp in counted:
                counted.remove(stamp)

    def _land(self, key: str) -> None:
        with self._lock:
            left = self._flying.get(key, 0) - 1
            if left > 0:
                self._flying[key] = left
            else:
                self._flying.pop(key, None)

    def _forget_some(self, now: float) -> None:
        """Keep memory bounded: past the cap, drop addresses with nothing counted, then the oldest not in flight."""
        if len(self._counted) < self.max_addresses:
            return
        for key in [k for k, counted in self._counted.items() if not counted or counted[-1] <= now - self.window]:
            if key not in self._flying:
                del self._counted[key]
        for key in list(self._counted):
            if len(self._counted) < self.max_addresses:
                break
            if key not in self._flying:
                del self._counted[key]


attempts = Attempts()  # the server's one limiter of secret checks (configured by the app factory)
