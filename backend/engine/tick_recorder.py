"""Recording the ticks of chosen instruments, for the lab's tick mode (issue 18).

The engine hands every tick here (`add`, on the event loop: a set lookup and a list append); the
ticks of a recorded instrument gather per instrument in a chunk of one minute (by the ticks' own
stamps). A chunk is closed when the next tick falls in another minute, when it holds CHUNK_TICKS
ticks, when it has been open CHUNK_SECONDS of wall time (a quiet market), when recording of its
instrument is switched off, and at a clean stop. A closed chunk is packed (tick_codec) and written on
the recorder's own writer thread, so neither the packing nor the insert runs on the loop or queues
behind (or ahead of) the engine's journal writes.

What a crash loses: the open chunks, at most the last CHUNK_SECONDS (60 s) of each recorded
instrument's ticks. A clean stop (close) writes them all.

The switch (which instruments are recorded) is stored, so it survives a restart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from backend.engine import tick_codec
from backend.engine.objects import TickData
from backend.engine.writer import StoreWriter
from model.protocols import TickStore

log = logging.getLogger(__name__)
CHUNK_TICKS = 4096  # ticks in one chunk at most (a burst within a minute still makes rows of bounded size)
CHUNK_SECONDS = 60.0  # a chunk open this long (wall time) is written even if its minute has more ticks to come


class TickRecorder:
    def __init__(self, store: TickStore, writer: StoreWriter | None = None) -> None:
        self.store = store
        self.writer = writer or StoreWriter()
        self.recorded: frozenset[str] = frozenset(store.load_recording())
        self._chunks: dict[str, list[TickData]] = {}  # local_symbol -> the open chunk's ticks
        self._opened: dict[str, float] = {}  # local_symbol -> when its open chunk took its first tick (monotonic)
        self.chunks_written = 0

    # --- the switch -------------------------------------------------------------------------------
    def switch(self, local_symbol: str, on: bool) -> bool:
        """Record an instrument's ticks from now on, or stop (its open chunk is written). Returns whether
        anything changed. Stored through the writer: effective at once, persisted in order."""
        if (local_symbol in self.recorded) == on:
            return False
        if on:
            self.recorded = self.recorded | {local_symbol}
        else:
            self.recorded = self.recorded - {local_symbol}
            self._close(local_symbol)
        self.writer.submit(self.store.set_recording, local_symbol, on)
        return True

    # --- ticks (on the event loop) -------------------------------------------------------------------
    def add(self, tick: TickData) -> None:
        name = tick.local_symbol
        if name not in self.recorded:
            return
        chunk = self._chunks.get(name)
        if chunk is None:
            self._chunks[name] = [tick]
            self._opened[name] = time.monotonic()
            return
        first = chunk[0].datetime
        moment = tick.datetime
        if (moment.minute != first.minute or moment.hour != first.hour or moment.date() != first.date()
                or len(chunk) >= CHUNK_TICKS or tick.name != chunk[0].name):  # fmt: skip
            self._close(name)
            self._chunks[name] = [tick]
            self._opened[name] = time.monotonic()
            return
        chunk.append(tick)

    def close_due(self, now: float | None = None) -> None:
        """Write the chunks open longer than CHUNK_SECONDS (the engine's store timer calls this)."""
        now = time.monotonic() if now is None else now
        for name in [name for name, opened in self._opened.items() if now - opened >= CHUNK_SECONDS]:
            self._close(name)

    def flush(self, timeout: float = 10.0) -> bool:
        """Write every open chunk and wait until all are stored (shutdown, tests, before reading back)."""
        for name in list(self._chunks):
            self._close(name)
        return self.writer.flush(timeout)

    def close(self, timeout: float = 10.0) -> bool:
        """A clean stop: nothing recorded is lost."""
        self.flush(timeout)
        return self.writer.close(timeout)

    def _close(self, name: str) -> None:
        chunk = self._chunks.pop(name, None)
        self._opened.pop(name, None)
        if chunk:
            self.writer.submit(self._write, name, chunk)

    def _write(self, name: str, chunk: list[TickData]) -> None:
        """On the writer's thread: pack and store one chunk."""
        data = tick_codec.encode(chunk)
        first, last = tick_codec.epoch_ms(chunk[0].datetime), tick_codec.epoch_ms(chunk[-1].datetime)
        self.store.save_tick_chunk(name, first, last, len(chunk), data)
        self.chunks_written += 1


def recorded_summary(recorded: Iterable[str], summary: list[dict]) -> list[dict]:
    """GET /record's rows: every instrument switched on or with ticks stored, sorted, with its switch."""
    on = set(recorded)
    stored = {row["local_symbol"]: row for row in summary}
    empty = {"count": 0, "first_ms": None, "last_ms": None, "bytes": 0}
    return [dict(stored.get(name) or {"local_symbol": name, **empty}, on=name in on)
            for name in sorted(on | set(stored))]  # fmt: skip
