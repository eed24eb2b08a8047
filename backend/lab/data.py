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
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import islice, repeat
from operator import add, itemgetter, le, lt
from pathlib import Path

from backend.bar_csv import header_columns, parse_moment  # the desk's own import's column aliases and forms

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


def _epoch_ms(text: str) -> int:
    """A datetime cell: epoch milliseconds (digits only, 12+ of them) or a date/time in exchange time."""
    text = text.strip()
    if text.isdigit() and len(text) >= 12:
        epoch_ms = int(text)
        if epoch_ms > MAX_EPOCH_MS:
            raise ValueError(f"datetime {text!r} is beyond the year 9999 in epoch ms")
        return epoch_ms
    try:
        return int(parse_moment(text).timestamp() * 1000)
    except (ValueError, OverflowError):
        raise ValueError(f"datetime {text!r} is neither epoch ms nor a date and time") from None


def bars_from_csv(path_or_text: str | Path, local_symbol: str, interval: str = "1m") -> Bars:
    """Bars from a CSV with a header: datetime (ISO or epoch ms; exchange time +08:00 unless the text gives
    a zone), open, high, low, close, volume[, open_interest] (the aliases of backend/bars_import.py).

    ValueError with the line number on the first bad row; rows must be in time order, without repeats.
    Read in pieces and joined: as fast as at once, with a third of the memory (a million rows: 0.2 GB)."""
    _, chunks = csv_chunks(path_or_text, local_symbol, interval, rows=100_000)
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

    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {', '.join(INTERVALS)}, not {interval!r}")
    if isinstance(path_or_text, Path) or "\n" not in str(path_or_text):
        text = Path(path_or_text).read_text(encoding="utf-8-sig")
    else:
        text = str(path_or_text)
    if "\r" in text:  # as a file read in text mode (scanning is far cheaper than copying 50 MB)
        text = text.replace("\r\n", "\n")
    newline = text.find("\n")
    first, start = (text, len(text)) if newline < 0 else (text[:newline], newline + 1)  # start: where the body is
    header = next(csv.reader(io.StringIO(first)), None)
    if not header:
        raise ValueError("the CSV is empty (a header line is needed)")
    found, errors = header_columns(header)
    if "datetime" not in found and not errors:
        errors.append("line 1: the lab needs one datetime column (not date and time)")
    if "volume" not in found and not errors:
        errors.append("line 1: missing column volume (bar mode caps fills by it)")
    if errors:
        raise ValueError(errors[0])
    layout = _Layout(found["datetime"], [found.get(name, -1) for name in _PRICE_COLUMNS], len(header))
    end = _end_before(text, start, "\r\n")
    count = text.count("\n", start, end) + 1 if _holds_text(text, start, end) else 0  # counted in C: for progress
    return count, _pieces(text, start, _end_before(text, start, "\n"), rows, layout, local_symbol, interval)


def _end_before(text: str, start: int, ends: str) -> int:
    """Where text[start:] ends without its trailing `ends` characters (as rstrip, without a copy)."""
    end = len(text)
    while end > start and text[end - 1] in ends:
        end -= 1
    return end


def _holds_text(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] holds more than white space: a short head tells without a copy of the whole
    (looked at only when the head is blank)."""
    return bool(text[start : min(end, start + 256)].strip() or text[start:end].strip())


def _pieces(text: str, start: int, end: int, rows: int, layout: _Layout, local_symbol: str,
            interval: str) -> Iterator[Bars]:  # fmt: skip
    """The bars of text[start:end], its lines cut when a piece is asked for (a CLI's child is starting
    meanwhile), a block at a time."""
    if text.find('"', start, end) >= 0:  # quoted fields may hold commas and line ends: the csv module reads it whole
        yield _lines_to_bars([], 2, layout, local_symbol, interval, whole=text[start:end])
        return
    yield from _chunks(_line_batches(text, start, end, rows), layout, local_symbol, interval)


@dataclass(frozen=True)
class _Layout:
    at: int  # the datetime column
    picks: list[int]  # open, high, low, close, volume, open_interest columns (-1: absent)
    width: int  # fields a row has
    # each distinct date and clock time is parsed once per file, not once per piece
    days: _Memo = field(default_factory=lambda: _Memo(_day_ms))
    clocks: _Memo = field(default_factory=lambda: _Memo(_clock_ms))


_BLOCK = 1 << 20  # characters of the text split into lines at a time (about 20,000 lines of bars)


def _line_batches(text: str, start: int, end: int, size: int) -> Iterator[list[str]]:
    """The lines of text[start:end], `size` at a time (0: all at once; no lines: one empty batch), split a
    block at a time: the first batch is ready without splitting the whole text (a million lines: 0.12 s)."""
    if start >= end or not size:
        yield text[start:end].split("\n") if start < end else []
        return
    pending: list[str] = []
    while start <= end:
        stop = text.find("\n", min(start + _BLOCK, end), end)
        stop = end if stop < 0 else stop
        pending += text[start:stop].split("\n")
        start = stop + 1
        while len(pending) >= size:
            yield pending[:size]
            del pending[:size]
    if pending:
        yield pending


def _chunks(batches: Iterator[list[str]], layout: _Layout, local_symbol: str, interval: str) -> Iterator[Bars]:
    """The bars of each batch of lines, the time order checked across batches too."""
    last = None
    line_no = 2
    for part in batches:
        bars = _lines_to_bars(part, line_no, layout, local_symbol, interval)
        if len(bars) and last is not None and bars.start_ms[0] <= last:
            first_line = line_no + next(n for n, line in enumerate(part) if line.strip())
            raise ValueError(f"line {first_line}: bars must be in time order without repeats")
        if len(bars):
            last = bars.start_ms[-1]
        line_no += len(part)
        yield bars


def _lines_to_bars(lines: list[str], line_no: int, layout: _Layout, local_symbol: str, interval: str,
                   whole: str | None = None) -> Bars:  # fmt: skip
    """The bars of data lines starting at line `line_no`: at C speed when plain, else row by row (`whole`: a
    CSV body with quoted fields, for the csv module only)."""

    collecting = gc.isenabled()
    gc.disable()  # millions of short lists and strings, no cycles: the collector would only walk them, again and again
    try:
        bars = None if whole is not None else _fast(lines, layout, local_symbol, interval)
        if bars is not None:
            return bars
        rows = list(csv.reader(io.StringIO(whole) if whole is not None else lines))
        return _row_by_row(rows, line_no, layout.at, layout.picks, local_symbol, interval)
    finally:
        if collecting:
            gc.enable()


_Columns = tuple[array, list[array]]  # start_ms, and open, high, low, close, volume, open_interest


def _fast(lines: list[str], layout: _Layout, local_symbol: str, interval: str) -> Bars | None:
    """The bars of plain lines at C speed, or None at the first doubt (then _row_by_row names the line): the
    numbers by one JSON parse when the datetime comes first at a fixed width (what vendors write), else
    column by column (what either reads, the other reads alike)."""
    if not lines or set(map(str.count, lines, repeat(","))) != {layout.width - 1}:  # blank or ragged lines
        return None
    cut = lines[0].find(",")
    found = None
    if layout.at == 0 and set(map(str.find, lines, repeat(","))) == {cut}:
        found = _after_fixed_datetime(lines, cut, layout)
    if found is None:
        found = _by_column(_plain_columns(lines, layout.width), layout)
    if found is None or not _sound(*found):
        return None
    return Bars(local_symbol, interval, found[0], *found[1])


def _after_fixed_datetime(lines: list[str], cut: int, layout: _Layout) -> _Columns | None:
    """The columns of lines whose datetime ends at `cut` on every line; None for what doubts.

    The datetime is sliced off each line and the rest, joined, is one JSON array of numbers: json's C parser
    reads six million numbers in 0.4 s where int() or float() on each cell takes twice that."""
    stride = layout.width - 1
    numbers = _json_numbers(list(map(itemgetter(slice(cut + 1, None)), lines)), len(lines) * stride)
    if numbers is None:
        return None
    rows = len(lines)
    values = [numbers[pick - 1 :: stride] if pick > 0 else array("d", bytes(8 * rows)) for pick in layout.picks]
    start_ms = _date_and_clock(lines, layout, cut) if cut >= 16 else None
    if start_ms is None:
        try:
            start_ms = _times(list(map(itemgetter(slice(0, cut)), lines)), layout)
        except (ValueError, TypeError, OverflowError):
            return None
    return start_ms, values


def _json_numbers(parts: list[str], expected: int) -> array | None:
    """The numbers of comma-separated `parts`, or None unless they are `expected` plain numbers.

    JSON reads a little more than numbers: true and false (which array('d') would take as 1 and 0) are
    refused by their letters, null, lists and objects by array('d'); NaN and Infinity pass here and meet
    _sound's finiteness check. What JSON refuses and float() takes (07, +5, 1_000, .5) goes the slow way."""
    parts[0] = "[" + parts[0]
    parts[-1] += "]"
    text = ",".join(parts)
    if "t" in text or "f" in text:
        return None
    try:
        numbers = array("d", json.loads(text))
    except (ValueError, TypeError, OverflowError, RecursionError):
        return None
    return numbers if len(numbers) == expected else None


def _plain_columns(lines: list[str], width: int) -> list[list[str]]:
    """The columns of lines of `width` fields without quotes, cut with str.split (the csv module's rows and
    their transposition cost three times as much)."""
    cells = ",".join(lines).split(",")
    return [cells[index::width] for index in range(width)]


def _by_column(columns: list[list[str]], layout: _Layout) -> _Columns | None:
    """The columns of bars of the columns of cells, one at a time (any layout); None for what doubts."""
    rows = len(columns[0])
    try:
        start_ms = _times(columns[layout.at], layout)
        values = [_numbers(columns[pick]) if pick >= 0 else array("d", bytes(8 * rows)) for pick in layout.picks]
    except (ValueError, TypeError, OverflowError):
        return None
    return start_ms, values


def _sound(start_ms: array, values: list[array]) -> bool:
    """Whether _row_by_row would take every row as it is: finite numbers, 0 < low <= open, close <= high,
    times rising. Comparisons of whole columns at C speed (no floats made, unlike subtracting them)."""
    # a nan or an infinity anywhere makes its column's sum one (a huge sum too: then the slow path decides)
    if not all(math.isfinite(sum(column)) for column in values):
        return False
    opens, highs, lows, closes = values[:4]
    if min(lows) <= 0:
        return False
    if not all(all(map(le, lower, upper)) for lower, upper in ((lows, opens), (lows, closes), (opens, highs),
                                                                 (closes, highs))):  # fmt: skip
        return False
    return all(map(lt, start_ms, islice(start_ms, 1, None)))


def _numbers(texts: list[str]) -> array:
    """A column of numbers: whole numbers (most prices, volumes) parse half again as fast with int()."""
    try:
        return array("d", map(int, texts))
    except ValueError:
        return array("d", map(float, texts))


_EPOCH = datetime(1970, 1, 1)
_MS = timedelta(milliseconds=1)
_SHANGHAI_MS = 8 * 3_600_000


def _times(texts: list[str], layout: _Layout) -> array:
    """Epoch ms of a datetime column: all epoch ms, or all naive ISO (exchange time); ValueError or
    TypeError for anything else."""
    if all(map(str.isdigit, texts)) and min(map(len, texts)) >= 12:
        column = array("q", map(int, texts))
        if max(column) > MAX_EPOCH_MS:
            raise ValueError("beyond the year 9999")  # the row-by-row path names the line
        return column
    found = _date_and_clock(texts, layout)
    if found is not None:
        return found
    parse = datetime.fromisoformat
    return array("q", [int((parse(text) - _EPOCH) / _MS) - _SHANGHAI_MS for text in texts])  # naive: else TypeError


def _date_and_clock(texts: list[str], layout: _Layout, end: int | None = None) -> array | None:
    """Epoch ms of datetimes written YYYY-MM-DD HH:MM[:SS] (or with a T), ending at `end` (None: the text's end),
    at C speed: each distinct date and clock time is parsed once (the layout's memos) and a row is two
    dictionary look-ups; None when any is not of that form."""
    dates, clocks = map(itemgetter(_DATE), texts), map(itemgetter(slice(10, end)), texts)
    try:
        return array("q", map(add, map(layout.days.__getitem__, dates), map(layout.clocks.__getitem__, clocks)))
    except ValueError:
        return None


class _Memo(dict):
    """A dict that computes a missing key's value (and keeps it): a column's distinct dates and clock times
    are few, so each is parsed once; `compute`'s ValueError is the caller's."""

    def __init__(self, compute: Callable[[str], int]) -> None:
        super().__init__()
        self.compute = compute

    def __missing__(self, key: str) -> int:
        value = self[key] = self.compute(key)
        return value


def _day_ms(text: str) -> int:
    """A "YYYY-MM-DD" date's midnight in exchange time, epoch ms."""
    return (date.fromisoformat(text) - _EPOCH_DAY).days * DAY_MS - _SHANGHAI_MS


def _clock_ms(text: str) -> int:
    """Milliseconds after midnight of a clock time HH:MM[:SS] after the date's separator (a space or T)."""
    separator, text = text[:1], text[1:]
    if separator not in (" ", "T") or len(text) not in (5, 8) or not text.replace(":", "").isdigit():
        raise ValueError(text)
    moment = time.fromisoformat(text)
    return ((moment.hour * 60 + moment.minute) * 60 + moment.second) * 1000


_DATE = slice(0, 10)
_EPOCH_DAY = date(1970, 1, 1)
DAY_MS = 86_400_000
MAX_EPOCH_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the last moment a datetime can hold


def _row_by_row(rows: list[list[str]], line_no: int, at: int, picks: list[int], local_symbol: str,
                interval: str) -> Bars:  # fmt: skip
    """Every row checked in turn: the first bad one is refused with its line number."""
    start_ms = array("q")
    values = [array("d") for _ in _PRICE_COLUMNS]
    last = None
    for line, row in enumerate(rows, start=line_no):
        if not row:
            continue
        try:
            when = _epoch_ms(row[at])
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
