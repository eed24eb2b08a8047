"""Argument checks and row shapes shared by the backends, so both refuse and return the same things."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

from backend.engine.constants import Interval
from backend.engine.objects import epoch_ms

if TYPE_CHECKING:
    from backend.engine.objects import BarData

ORDER_KEY = ("order_id",)
TRADE_KEY = ("exchange", "trade_id", "direction")
# Signed 64-bit bounds: an open range end, and the widest integer both SQLite and BSON store.
MIN_MS = -(2**63)
MAX_MS = 2**63 - 1


class BarRow(NamedTuple):
    local_symbol: str
    interval: str
    start_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: int
    turnover: float
    open_interest: float

    def wire(self) -> list[Any]:
        """[ts_ms, open, high, low, close, volume], as BarData.to_row gives it."""
        return [self.start_ms, self.open, self.high, self.low, self.close, self.volume]


def interval_value(interval: Interval | str) -> str:
    """Refuse an unknown interval rather than store bars nobody will ever load."""
    return Interval(interval).value


def bar_rows(bars: Iterable[BarData]) -> list[BarRow]:
    """One row per key, the last bar of a key winning, as a later save would."""
    rows: dict[tuple[str, str, int], BarRow] = {}
    for bar in bars:
        if bar.datetime.tzinfo is None:
            raise ValueError(f"bar {bar.local_symbol} {bar.datetime}: datetime must be timezone-aware")
        row = BarRow(
            bar.local_symbol,
            interval_value(bar.interval),
            epoch_ms(bar.datetime),
            float(bar.open_price),
            float(bar.high_price),
            float(bar.low_price),
            float(bar.close_price),
            int(bar.volume),
            float(bar.turnover),
            float(bar.open_interest),
        )
        rows[row[:3]] = row
    return list(rows.values())


def bar_range(start_ms: int | None, end_ms: int | None, limit: int) -> tuple[int, int]:
    """Close open ends and check the limit, so backends need no None handling of their own."""
    check_limit(limit)
    low = MIN_MS if start_ms is None else int(start_ms)
    high = MAX_MS if end_ms is None else int(end_ms)
    return max(low, MIN_MS), min(high, MAX_MS)


def check_limit(limit: int) -> int:
    if limit < 1:
        raise ValueError(f"limit must be positive, got {limit}")
    return limit


def check_max_logs(max_logs: int) -> int:
    if max_logs < 1:
        raise ValueError(f"max_logs must be positive, got {max_logs}")
    return max_logs


def log_slack(max_logs: int) -> int:
    """How far the log table may grow past max_logs before it is trimmed back (10%, at least 1)."""
    return max(1, max_logs // 10)


def to_json(value: Any) -> str:
    """Serialise as the contract promises (JSON); raise TypeError before anything is written."""
    return json.dumps(value, ensure_ascii=False)


def from_json(text: str) -> Any:
    return json.loads(text)


def json_copy(value: Any) -> Any:
    """What a JSON round trip gives back: both backends return exactly this."""
    return json.loads(to_json(value))


def journal_key(kind: str, record: dict[str, Any], names: tuple[str, ...]) -> tuple[str, ...]:
    """The record's key fields, which must be non-empty strings: a journal entry nobody can find is lost."""
    if not isinstance(record, dict):
        raise TypeError(f"{kind} must be a dict, got {type(record).__name__}")
    values = tuple(record.get(name) for name in names)
    for name, value in zip(names, values, strict=True):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{kind} needs a non-empty string {name!r}, got {value!r}")
    return values  # type: ignore[return-value]


def symbol_list(local_symbols: Iterable[str]) -> list[str]:
    """Refuse a bare str, which would otherwise be taken as one subscription per character."""
    if isinstance(local_symbols, str):
        raise TypeError("pass an iterable of local_symbols, not one str")
    symbols = list(local_symbols)
    for symbol in symbols:
        if not isinstance(symbol, str) or not symbol:
            raise ValueError(f"a local_symbol must be a non-empty string, got {symbol!r}")
    return sorted(set(symbols))


def check_str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    return value


def tick_chunk(local_symbol: str, first_ms: int, last_ms: int, count: int, data: bytes) -> tuple[Any, ...]:
    """A recorded-tick chunk's row, checked before anything is written."""
    if not isinstance(local_symbol, str) or not local_symbol:
        raise ValueError(f"a local_symbol must be a non-empty string, got {local_symbol!r}")
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"a tick chunk's data must be bytes, got {type(data).__name__}")
    first, last, ticks = int(first_ms), int(last_ms), int(count)
    if ticks < 1 or last < first:
        raise ValueError(f"a tick chunk needs count >= 1 and first_ms <= last_ms, got {ticks}, {first}..{last}")
    return local_symbol, first, last, ticks, bytes(data)


def tick_range(start_ms: int | None, end_ms: int | None) -> tuple[int, int]:
    low = MIN_MS if start_ms is None else int(start_ms)
    high = MAX_MS if end_ms is None else int(end_ms)
    return low, high
