"""How many log lines a strategy may write a second, on both ends of its pipe.

A strategy that prints in a tight loop must not turn the server into a log pump: every line costs a
JSON parse, a push to every browser and a store row. The worker throttles its own print() and
`self.info()`; the server throttles again, higher, for a worker that writes into the pipe itself.
What is dropped is counted and said, at most once a second, so nobody wonders where lines went.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter

WORKER_LOG_RATE = 50  # lines a second a worker sends on (print, stderr, self.info...)
SERVER_LOG_RATE = 100  # lines a second the server takes from one worker: room for the worker's own summaries
REPORT_EVERY = 1.0  # seconds between two "lines dropped" summaries


@dataclass
class LogThrottle:
    """A per-second allowance with a count of what it refused since the last report."""

    per_second: int
    dropped: int = 0
    _limiter: FixedWindowRateLimiter = field(default_factory=lambda: FixedWindowRateLimiter(MemoryStorage()))
    _reported_at: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self._item = RateLimitItemPerSecond(self.per_second)

    def allow(self) -> bool:
        if self._limiter.hit(self._item, "log"):
            return True
        self.dropped += 1
        return False

    def report(self) -> int:
        """Lines dropped since the last report, once at least REPORT_EVERY has passed (else 0)."""
        now = time.monotonic()
        if not self.dropped or now - self._reported_at < REPORT_EVERY:
            return 0
        dropped, self.dropped, self._reported_at = self.dropped, 0, now
        return dropped


def dropped_message(count: int, per_second: int) -> str:
    return f"{count:,} log lines dropped: a strategy may log at most {per_second} lines a second"
