"""Bars for the lab, columnar and compact: one array per field, cheap to write to a file for a child.

Why columns of `array` rather than a list of BarData: a million bars as objects take ~500 MB and
seconds to build and pickle; as seven arrays they take 56 MB, load with one read per column and the
engine's loop indexes them directly.
"""

from __future__ import annotations

import csv
import io
import json
import math
from array import array
from bisect import bisect_left
from dataclasses import dataclass
from pathlib import Path

from backend.bars_import import _columns, _moment

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
        return int(text)
    try:
        return int(_moment(text).timestamp() * 1000)
    except (ValueError, OverflowError):
        raise ValueError(f"datetime {text!r} is neither epoch ms nor a date and time") from None


def bars_from_csv(path_or_text: str | Path, local_symbol: str, interval: str = "1m") -> Bars:
    """Bars from a CSV with a header: datetime (ISO or epoch ms; exchange time +08:00 unless the text gives
    a zone), open, high, low, close, volume[, open_interest] (the aliases of backend/bars_import.py).

    ValueError with the line number on the first bad row; rows must be in time order, without repeats."""
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {', '.join(INTERVALS)}, not {interval!r}")
    if isinstance(path_or_text, Path) or "\n" not in str(path_or_text):
        text = Path(path_or_text).read_text(encoding="utf-8-sig")
    else:
        text = str(path_or_text)
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise ValueError("the CSV is empty (a header line is needed)")
    found, errors = _columns(header)
    if "datetime" not in found and not errors:
        errors.append("line 1: the lab needs one datetime column (not date and time)")
    if "volume" not in found and not errors:
        errors.append("line 1: missing column volume (bar mode caps fills by it)")
    if errors:
        raise ValueError(errors[0])
    at = found["datetime"]
    picks = [found.get(name, -1) for name in _PRICE_COLUMNS]
    start_ms = array("q")
    values = [array("d") for _ in _PRICE_COLUMNS]
    last = None
    for line, row in enumerate(reader, start=2):
        if not row:
            continue
        try:
            moment = _epoch_ms(row[at])
            numbers = [float(row[pick]) if pick >= 0 else 0.0 for pick in picks]
        except (ValueError, IndexError) as error:
            raise ValueError(f"line {line}: {error or 'missing field'}") from None
        if not all(math.isfinite(n) for n in numbers):
            raise ValueError(f"line {line}: a price or volume is not a finite number")
        o, h, lo, c, _, _ = numbers
        if not (lo <= min(o, c) and h >= max(o, c) and lo > 0):
            raise ValueError(f"line {line}: prices must be positive with low <= open, close <= high")
        if last is not None and moment <= last:
            raise ValueError(f"line {line}: bars must be in time order without repeats")
        last = moment
        start_ms.append(moment)
        for column, number in zip(values, numbers, strict=True):
            column.append(number)
    return Bars(local_symbol, interval, start_ms, *values)
