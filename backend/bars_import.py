"""Import bars from a CSV into the store: POST /bar/import and `python -m backend.bars_import`.

A real counter serves no history, so besides the bars the desk records, the history is what you
import. The columns are those of the common exports, named in the header in any case and order:

    datetime (or date + time), open, high, low, close[, volume][, turnover][, open_interest]

with the usual aliases (open_price, vol, amount, oi, hold, position, 开盘价 ...). `datetime` is the bar's
start in exchange time (Asia/Shanghai; a zone given in the text is honoured), e.g. 2026-01-05 09:01,
2026/01/05 09:01:00, 20260105 09:01:00, or a date alone for daily bars (dated by trading day).

Validation is strict and row by row: every error is reported with its line number (up to
MAX_ERRORS), and nothing is stored unless every row is valid. Checked: unknown, missing or repeated
columns, a row's field count, the time (parseable, a bar start of the interval: 09:01:00 for 1m,
09:05 for 5m, 00:00 for 1d), prices (numbers, positive, high >= open, close, low; low <= open,
close), volume (a whole number >= 0), turnover and open interest (>= 0), and duplicate times.

A 1-minute import also makes the 5m..1d bars by the engine's aggregators (chart.aggregate_minutes),
except those already stored: derived bars never replace recorded ones. The imported bars themselves
replace stored bars of the same start (bars are keyed by local_symbol, interval and start).
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import sys
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from backend.bar_csv import header_columns, parse_moment
from backend.engine.chart import aggregate_minutes
from backend.engine.constants import INTERVAL_MINUTES, Exchange, Interval
from backend.engine.objects import BarData
from backend.sim.calendar import trading_day_for

if TYPE_CHECKING:
    from model import Store

MAX_IMPORT_BYTES = 16 * 1024 * 1024  # a year of 1-minute bars of a night-session product is ~10 MB
MAX_IMPORT_ROWS = 200_000
MAX_ERRORS = 100

class ImportRefused(ValueError):
    """The file is not imported; `errors` lists every problem found ("line N: ..."), at most MAX_ERRORS."""

    def __init__(self, errors: list[str]) -> None:
        shown = errors[:MAX_ERRORS]
        more = f" (and more: the first {MAX_ERRORS} shown)" if len(errors) > MAX_ERRORS else ""
        super().__init__(f"{len(shown)} error(s), nothing imported{more}: " + "; ".join(shown[:3]))
        self.errors = shown


@dataclass(frozen=True)
class ImportResult:
    local_symbol: str
    interval: str
    rows: int  # bars in the file
    derived: int  # higher-interval bars made from them and stored
    first: str  # the first and last bar's start (ISO 8601)
    last: str

    def to_dict(self) -> dict[str, object]:
        return {"local_symbol": self.local_symbol, "interval": self.interval, "rows": self.rows,
                "derived": self.derived, "first": self.first, "last": self.last}  # fmt: skip


def _number(name: str, text: str) -> float:
    try:
        value = float(text.strip().replace(",", ""))
    except ValueError:
        raise ValueError(f"{name} {text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} {text.strip()!r} is not a finite number")
    return value


def _aligned(moment: datetime, interval: Interval) -> str | None:
    """Why `moment` cannot start a bar of `interval` (None: it can)."""
    if interval is Interval.DAILY:
        return None if moment.time() == time(0) else "a daily bar's datetime is its trading day (no time of day)"
    if moment.second or moment.microsecond:
        return "a bar starts on a whole minute (no seconds)"
    span = INTERVAL_MINUTES[interval]
    if (moment.hour * 60 + moment.minute) % span:
        return f"a {interval.value} bar starts on a multiple of {span} minutes"
    return None


def parse_bars(text: str, local_symbol: str, interval: Interval | str = Interval.MINUTE) -> list[BarData]:
    """The bars of a CSV, oldest first; ImportRefused listing every error when any row is invalid."""
    symbol, exchange, interval = _target(local_symbol, interval)
    if len(text.encode()) > MAX_IMPORT_BYTES:
        raise ImportRefused([f"the file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB: split it"])
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    if not header or not any(cell.strip() for cell in header):
        raise ImportRefused(["line 1: no header (datetime, open, high, low, close, volume, turnover, open_interest)"])
    columns, errors = header_columns(header)
    if errors:
        raise ImportRefused(errors)
    bars: list[BarData] = []
    seen: dict[datetime, int] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue  # blank lines (a trailing newline) are not rows
        if len(bars) + len(errors) >= MAX_IMPORT_ROWS:
            errors.append(f"line {line}: more than {MAX_IMPORT_ROWS} rows: split the file")
            break
        if len(row) != len(header):
            errors.append(f"line {line}: {len(row)} fields, the header has {len(header)}")
            continue
        try:
            bar = _bar(row, columns, symbol, exchange, interval)
        except ValueError as error:
            errors.append(f"line {line}: {error}")
            continue
        if bar.datetime in seen:
            errors.append(f"line {line}: duplicate datetime {bar.datetime.isoformat()} (line {seen[bar.datetime]} too)")
            continue
        seen[bar.datetime] = line
        bars.append(bar)
        if len(errors) > MAX_ERRORS:
            break
    if errors:
        raise ImportRefused(errors)
    if not bars:
        raise ImportRefused(["the file has a header but no rows"])
    bars.sort(key=lambda bar: bar.datetime)
    return bars


def _target(local_symbol: str, interval: Interval | str) -> tuple[str, Exchange, Interval]:
    symbol, dot, exchange = local_symbol.strip().rpartition(".")
    try:
        found = Exchange(exchange)
    except ValueError:
        raise ImportRefused([f"local_symbol {local_symbol!r}: expected symbol.EXCHANGE, e.g. rb2601.SHFE"]) from None
    if not dot or not symbol:
        raise ImportRefused([f"local_symbol {local_symbol!r}: expected symbol.EXCHANGE, e.g. rb2601.SHFE"])
    try:
        return symbol, found, Interval(str(getattr(interval, "value", interval)).lower())
    except ValueError:
        raise ImportRefused([f"interval {interval!r}: one of {', '.join(i.value for i in Interval)}"]) from None


def _bar(row: list[str], columns: dict[str, int], symbol: str, exchange: Exchange, interval: Interval) -> BarData:
    if "datetime" in columns:
        text = row[columns["datetime"]]
    else:
        text = f"{row[columns['date']].strip()} {row[columns['time']].strip() if 'time' in columns else ''}".strip()
    try:
        moment = parse_moment(text)
    except ValueError:
        raise ValueError(f"datetime {text.strip()!r} is not a date and time (e.g. 2026-01-05 09:01:00)") from None
    reason = _aligned(moment, interval)
    if reason:
        raise ValueError(f"datetime {text.strip()!r}: {reason}")
    open_, high, low, close = (_number(name, row[columns[name]]) for name in ("open", "high", "low", "close"))
    if min(open_, high, low, close) <= 0:
        raise ValueError("prices must be positive")
    if high < max(open_, close, low):
        raise ValueError(f"high {high:g} is below {'low' if high < low else 'open or close'}")
    if low > min(open_, close):
        raise ValueError(f"low {low:g} is above open or close")
    extra = {}
    for name in ("volume", "turnover", "open_interest"):
        text = row[columns[name]].strip() if name in columns else ""
        value = _number(name, text) if text else 0.0
        if value < 0:
            raise ValueError(f"{name} {text!r} is negative")
        if name == "volume" and value != int(value):
            raise ValueError(f"volume {text!r} is not a whole number")
        extra[name] = value
    return BarData(symbol, exchange, interval, moment, open_, high, low, close, int(extra["volume"]),
                   extra["turnover"], extra["open_interest"])  # fmt: skip


def trading_day_of(bar: BarData) -> date:
    """The trading day a minute belongs to (from 18:00 the next business day), as the sim and fronts date it."""
    return trading_day_for(bar.datetime)


def import_bars(store: Store, text: str, local_symbol: str, interval: Interval | str = Interval.MINUTE) -> ImportResult:
    """Validate the whole CSV, then store it (one save: nothing half-imported). Blocking: run off the loop."""
    bars = parse_bars(text, local_symbol, interval)
    derived: list[BarData] = []
    if bars[0].interval is Interval.MINUTE:
        first, last = bars[0].datetime, bars[-1].datetime
        derived = aggregate_minutes(bars, trading_day_of)
        existing = set()
        for each in {bar.interval for bar in derived}:
            start = first - timedelta(days=7) if each is Interval.DAILY else first - timedelta(hours=1)
            rows = store.load_bars(bars[0].local_symbol, each, _ms(start), _ms(last + timedelta(days=7)),
                                   MAX_IMPORT_ROWS)
            existing.update((each, row[0]) for row in rows)
        derived = [bar for bar in derived if (bar.interval, _ms(bar.datetime)) not in existing]
    store.save_bars([*bars, *derived])
    return ImportResult(bars[0].local_symbol, bars[0].interval.value, len(bars), len(derived),
                        bars[0].datetime.isoformat(), bars[-1].datetime.isoformat())  # fmt: skip


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend.bars_import", description=__doc__.split("\n")[0])
    parser.add_argument("file", type=Path, help="the CSV (UTF-8; a BOM is fine)")
    parser.add_argument("--symbol", required=True, help="local_symbol, e.g. rb2601.SHFE")
    parser.add_argument("--interval", default="1m", help="1m (default), 5m, 15m, 30m, 1h or 1d")
    parser.add_argument("--data-dir", default=None, help="the server's data directory (default: DATA_DIR)")
    parser.add_argument("--mongo-uri", default="", help="the server's MONGO_URI when it uses MongoDB")
    options = parser.parse_args(argv)
    from lib.config import Settings
    from model import open_store

    try:
        text = options.file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        print(f"cannot read {options.file}: {error}", file=sys.stderr)
        return 2
    store = open_store(Path(options.data_dir or Settings.DATA_DIR), options.mongo_uri)
    try:
        result = import_bars(store, text, options.symbol, options.interval)
    except ImportRefused as refused:
        for error in refused.errors:
            print(f"{options.file}: {error}", file=sys.stderr)
        print("nothing imported", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(f"imported {result.rows} {result.interval} bars of {result.local_symbol} ({result.first} .. {result.last}),"
          f" {result.derived} higher-interval bars made from them")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
