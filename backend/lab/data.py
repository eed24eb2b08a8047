"""Bars for the lab, columnar and compact: one array per field, cheap to write to a file for a child.

Why columns of `array` rather than a list of BarData: a million bars as objects take ~500 MB and
seconds to build and pickle; as seven arrays they take 56 MB, load with one read per column and the
engine's loop indexes them directly.
"""

from __future__ import annotations

import csv
import gc
import io
import json
import math
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import islice, repeat
from operator import add, itemgetter, sub
from pathlib import Path

INTERVALS = ("1m", "5m", "15m", "30m", "1h", "1d")
FILE_MAGIC = b"CTPDESK-BARS 1\n"
_PRICE_COLUMNS = ("open", "high", "low", "close", "volume", "open_interest")


@dataclass(frozen=True)
class Bars:
    """Bars of one instrument and interval, oldest first; start_ms is each bar's start in epoch ms."""

    local_symbol: str
    interval: str
    start_ms: array  # 'q'
    open: array  # 'd'
    high: array
    low: array
    close: array
    volume: array
    open_interest: array

    def __len__(self) -> int:
        return len(self.start_ms)

    def columns(self) -> tuple[array, ...]:
        return (self.start_ms, self.open, self.high, self.low, self.close, self.volume, self.open_interest)

    def extend(self, more: Bars) -> None:
        """Append `more` (later bars of the same instrument) in place: an engine reading this Bars sees them."""
        for column, extra in zip(self.columns(), more.columns(), strict=True):
            column.extend(extra)

    def slice(self, start_ms: int | None, end_ms: int | None) -> Bars:
        """The bars starting in [start_ms, end_ms) (None: unbounded)."""
        begin = 0 if start_ms is None else bisect_left(self.start_ms, start_ms)
        end = len(self) if end_ms is None else bisect_left(self.start_ms, end_ms)
        cut = [column[begin:end] for column in self.columns()]
        return Bars(self.local_symbol, self.interval, *cut)

    def to_file(self, path: str | Path) -> None:
        """A header line, then the columns' raw bytes: read back with one read per column."""
        header = json.dumps({"local_symbol": self.local_symbol, "interval": self.interval, "count": len(self)})
        with open(path, "wb") as out:
            out.write(FILE_MAGIC + header.encode() + b"\n")
            for column in self.columns():
                column.tofile(out)

    @classmethod
    def from_file(cls, path: str | Path) -> Bars:
        with open(path, "rb") as source:
            if source.readline() != FILE_MAGIC:
                raise ValueError(f"{path}: not a bars file")
            header = json.loads(source.readline())
            count = int(header["count"])
            columns = []
            for code in "qdddddd":
                column = array(code)
                column.fromfile(source, count)
                columns.append(column)
        return cls(str(header["local_symbol"]), str(header["interval"]), *columns)


def empty_bars(local_symbol: str, interval: str = "1m") -> Bars:
    return Bars(local_symbol, interval, array("q"), *(array("d") for _ in range(6)))


def make_bars(local_symbol: str, interval: str, rows: list[tuple]) -> Bars:
    """Bars from (start_ms, open, high, low, close, volume[, open_interest]) rows (tests, the store)."""
    columns = [array("q"), *(array("d") for _ in range(6))]
    for row in rows:
        columns[0].append(int(row[0]))
        for index in range(1, 6):
            columns[index].append(float(row[index]))
        columns[6].append(float(row[6]) if len(row) > 6 else 0.0)
    return Bars(local_symbol, interval, *columns)


def _epoch_ms(text: str, moment: Callable[[str], datetime]) -> int:
    """A datetime cell: epoch milliseconds (digits only, 12+ of them) or a date/time in exchange time."""
    text = text.strip()
    if text.isdigit() and len(text) >= 12:
        return int(text)
    try:
        return int(moment(text).timestamp() * 1000)
    except (ValueError, OverflowError):
        raise ValueError(f"datetime {text!r} is neither epoch ms nor a date and time") from None


def bars_from_csv(path_or_text: str | Path, local_symbol: str, interval: str = "1m") -> Bars:
    """Bars from a CSV with a header: datetime (ISO or epoch ms; exchange time +08:00 unless the text gives
    a zone), open, high, low, close, volume[, open_interest] (the aliases of backend/bars_import.py).

    ValueError with the line number on the first bad row; rows must be in time order, without repeats."""
    _, chunks = csv_chunks(path_or_text, local_symbol, interval, rows=0)
    parts = list(chunks)
    if len(parts) == 1:
        return parts[0]
    bars = empty_bars(local_symbol, interval)
    for part in parts:
        bars.extend(part)
    return bars


def csv_chunks(path_or_text: str | Path, local_symbol: str, interval: str = "1m",
               rows: int = 100_000) -> tuple[int, Iterator[Bars]]:  # fmt: skip
    """(the number of data lines, the bars `rows` lines at a time (0: all at once)), checked as bars_from_csv.

    In pieces so that a backtest can start on the first while the rest is read (the CLI streams them to
    its child); the header is checked before this returns, each piece when it is reached."""
    from backend.bars_import import _columns  # the desk's own import's column aliases (open_price, 成交量 ...)

    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {', '.join(INTERVALS)}, not {interval!r}")
    if isinstance(path_or_text, Path) or "\n" not in str(path_or_text):
        text = Path(path_or_text).read_text(encoding="utf-8-sig")
    else:
        text = str(path_or_text)
    header = next(csv.reader(io.StringIO(text.partition("\n")[0])), None)
    if not header:
        raise ValueError("the CSV is empty (a header line is needed)")
    found, errors = _columns(header)
    if "datetime" not in found and not errors:
        errors.append("line 1: the lab needs one datetime column (not date and time)")
    if "volume" not in found and not errors:
        errors.append("line 1: missing column volume (bar mode caps fills by it)")
    if errors:
        raise ValueError(errors[0])
    layout = _Layout(found["datetime"], [found.get(name, -1) for name in _PRICE_COLUMNS], len(header))
    body = text.partition("\n")[2]
    count = body.rstrip("\r\n").count("\n") + 1 if body.strip() else 0  # lines, counted in C: for progress
    return count, _pieces(body, rows, layout, local_symbol, interval)


def _pieces(body: str, rows: int, layout: _Layout, local_symbol: str, interval: str) -> Iterator[Bars]:
    """The lines cut when the first piece is asked for (a CLI's child is starting meanwhile)."""
    body = body.replace("\r\n", "\n").rstrip("\n")
    if '"' in body:  # quoted fields may hold commas and line ends: the csv module reads it whole
        yield _lines_to_bars([], 2, layout, local_symbol, interval, whole=body)
        return
    lines = body.split("\n") if body else []
    yield from _chunks(lines, rows or len(lines) or 1, layout, local_symbol, interval)


@dataclass(frozen=True)
class _Layout:
    at: int  # the datetime column
    picks: list[int]  # open, high, low, close, volume, open_interest columns (-1: absent)
    width: int  # fields a row has


def _chunks(lines: list[str], size: int, layout: _Layout, local_symbol: str, interval: str) -> Iterator[Bars]:
    last = None
    for begin in range(0, max(len(lines), 1), size):
        part = lines[begin : begin + size]
        bars = _lines_to_bars(part, begin + 2, layout, local_symbol, interval)
        if len(bars) and last is not None and bars.start_ms[0] <= last:
            first_line = begin + 2 + next(n for n, line in enumerate(part) if line.strip())
            raise ValueError(f"line {first_line}: bars must be in time order without repeats")
        if len(bars):
            last = bars.start_ms[-1]
        yield bars


def _lines_to_bars(lines: list[str], line_no: int, layout: _Layout, local_symbol: str, interval: str,
                   whole: str | None = None) -> Bars:  # fmt: skip
    """The bars of data lines starting at line `line_no`: at C speed when plain, else row by row (`whole`: a
    CSV body with quoted fields, for the csv module only)."""
    from backend.bars_import import _moment

    collecting = gc.isenabled()
    gc.disable()  # millions of short lists and strings, no cycles: the collector would only walk them, again and again
    try:
        columns = None if whole is not None else _plain_columns(lines, layout.width)
        bars = None if columns is None else _columnar(columns, layout.at, layout.picks, local_symbol, interval)
        if bars is not None:
            return bars
        rows = list(csv.reader(io.StringIO(whole) if whole is not None else lines))
        return _row_by_row(rows, line_no, layout.at, layout.picks, local_symbol, interval, _moment)
    finally:
        if collecting:
            gc.enable()


def _plain_columns(lines: list[str], width: int) -> list[list[str]] | None:
    """The columns of data lines without quotes, blank lines or ragged rows, cut with str.split (the csv
    module's rows and their transposition cost three times as much); None for anything else."""
    if not lines:
        return None
    if set(map(str.count, lines, repeat(","))) != {width - 1}:  # every line its width-1 commas (C speed)
        return None
    cells = ",".join(lines).split(",")
    return [cells[index::width] for index in range(width)]


def _columnar(columns: list[list[str]], at: int, picks: list[int], local_symbol: str, interval: str) -> Bars | None:
    """The common case at C speed, column by column (a million rows in about two seconds); None at the first
    doubt (an unusual time format, a bad number, prices or times out of order): _row_by_row then names the line."""
    rows = len(columns[0])
    try:
        start_ms = _times(columns[at])
        values = [_numbers(columns[pick]) if pick >= 0 else array("d", bytes(8 * rows)) for pick in picks]
    except (ValueError, TypeError, OverflowError):
        return None
    # a nan or an infinity anywhere makes its column's sum one (a huge sum too: then the slow path decides)
    if start_ms is None or not all(math.isfinite(sum(column)) for column in values):
        return None
    opens, highs, lows, closes = values[:4]
    margins = ((opens, lows), (closes, lows), (highs, opens), (highs, closes))  # each >= 0
    if min(lows) <= 0 or any(min(map(sub, upper, lower)) < 0 for upper, lower in margins):
        return None
    if rows > 1 and min(map(sub, islice(start_ms, 1, None), start_ms)) <= 0:
        return None
    return Bars(local_symbol, interval, start_ms, *values)


def _numbers(texts: list[str]) -> array:
    """A column of numbers: whole numbers (most prices, volumes) parse half again as fast with int()."""
    try:
        return array("d", map(int, texts))
    except ValueError:
        return array("d", map(float, texts))


_EPOCH = datetime(1970, 1, 1)
_MS = timedelta(milliseconds=1)
_SHANGHAI_MS = 8 * 3_600_000


def _times(texts: list[str]) -> array | None:
    """Epoch ms of a datetime column: all epoch ms, or all naive ISO (exchange time); None for anything else."""
    if all(map(str.isdigit, texts)) and min(map(len, texts)) >= 12:
        return array("q", map(int, texts))
    found = _date_and_clock(texts)
    if found is not None:
        return found
    parse = datetime.fromisoformat
    return array("q", [int((parse(text) - _EPOCH) / _MS) - _SHANGHAI_MS for text in texts])  # naive: else TypeError


def _date_and_clock(texts: list[str]) -> array | None:
    """"YYYY-MM-DD HH:MM[:SS]" (or with a T) at C speed: each distinct date and clock time is parsed once and
    the column is two dictionary look-ups a row; None when any is not of that form."""
    if min(map(len, texts)) < 16 or set(map(itemgetter(10), texts)) - {" ", "T"}:  # a date alone: not here
        return None
    dates, clocks = list(map(itemgetter(_DATE), texts)), list(map(itemgetter(_CLOCK), texts))
    try:
        days = {key: (date.fromisoformat(key) - _EPOCH_DAY).days * DAY_MS - _SHANGHAI_MS for key in set(dates)}
        seconds = {key: _clock_ms(key) for key in set(clocks)}
    except ValueError:
        return None
    return array("q", map(add, map(days.__getitem__, dates), map(seconds.__getitem__, clocks)))


def _clock_ms(text: str) -> int:
    if len(text) not in (5, 8) or not text.replace(":", "").isdigit():
        raise ValueError(text)
    moment = time.fromisoformat(text)
    return ((moment.hour * 60 + moment.minute) * 60 + moment.second) * 1000


_DATE, _CLOCK = slice(0, 10), slice(11, None)
_EPOCH_DAY = date(1970, 1, 1)
DAY_MS = 86_400_000


def _row_by_row(rows: list[list[str]], line_no: int, at: int, picks: list[int], local_symbol: str, interval: str,
                moment: Callable[[str], datetime]) -> Bars:  # fmt: skip
    """Every row checked in turn: the first bad one is refused with its line number."""
    start_ms = array("q")
    values = [array("d") for _ in _PRICE_COLUMNS]
    last = None
    for line, row in enumerate(rows, start=line_no):
        if not row:
            continue
        try:
            when = _epoch_ms(row[at], moment)
            numbers = [float(row[pick]) if pick >= 0 else 0.0 for pick in picks]
        except (ValueError, IndexError) as error:
            raise ValueError(f"line {line}: {error or 'missing field'}") from None
        if not all(math.isfinite(n) for n in numbers):
            raise ValueError(f"line {line}: a price or volume is not a finite number")
        o, h, lo, c, _, _ = numbers
        if not (lo <= min(o, c) and h >= max(o, c) and lo > 0):
            raise ValueError(f"line {line}: prices must be positive with low <= open, close <= high")
        if last is not None and when <= last:
            raise ValueError(f"line {line}: bars must be in time order without repeats")
        last = when
        start_ms.append(when)
        for column, number in zip(values, numbers, strict=True):
            column.append(number)
    return Bars(local_symbol, interval, start_ms, *values)
