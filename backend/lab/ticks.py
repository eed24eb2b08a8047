"""Recorded ticks for the lab: columnar (one array per field), cheap to ship to a backtest's process.

What the desk recorded (backend/engine/tick_recorder.py, stored packed by backend/engine/tick_codec.py)
comes back here whole: every field of every tick, in the order the ticks arrived. `tick(i)` is the
engine's own TickData (for the bar builder), `record(i)` the dict a live strategy's on_tick gets.
"""

from __future__ import annotations

import json
import struct
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from backend.engine.constants import Exchange
from backend.engine.objects import SHANGHAI, TickData, split_local_symbol
from backend.engine.tick_codec import COLUMNS, INT_COLUMNS, decode, encode, number_day
from model.protocols import TickStore

FILE_MAGIC = b"CTPDESK-TICKS-1\n"
_LENGTH = struct.Struct("<Q")


class NoTicks(LookupError):
    """Nothing recorded for that instrument and range."""


def _empty_columns() -> dict[str, array]:
    return {column: array("q" if column in INT_COLUMNS else "d") for column in COLUMNS}


@dataclass(frozen=True)
class Ticks:
    """One instrument's ticks. `columns[name]` is an array per field of tick_codec.COLUMNS: `datetime` in epoch
    ms, `trading_day` as YYYYMMDD, the rest as TickData holds them."""

    local_symbol: str
    name: str
    columns: dict[str, array]

    def __len__(self) -> int:
        return len(self.columns["datetime"])

    @property
    def datetime_ms(self) -> array:
        return self.columns["datetime"]

    @classmethod
    def from_chunks(cls, local_symbol: str, chunks: Iterable[bytes]) -> Ticks:
        columns = _empty_columns()
        name = ""
        for blob in chunks:
            chunk = decode(blob)
            name = chunk.name or name
            for column in COLUMNS:
                columns[column].extend(chunk.columns[column])
        return cls(local_symbol, name, columns)

    @classmethod
    def from_ticks(cls, ticks: Iterable[TickData]) -> Ticks:
        """From engine ticks of one instrument (tests, hand-made sequences)."""
        listed = list(ticks)
        if not listed:
            raise ValueError("no ticks")
        return cls.from_chunks(listed[0].local_symbol, [encode(listed)])

    def slice(self, start_ms: int | None, end_ms: int | None) -> Ticks:
        """The ticks stamped in [start_ms, end_ms) (None: open; as Bars.slice), arrival order kept."""
        stamps = self.columns["datetime"]
        low = start_ms if start_ms is not None else -(2**63)
        high = end_ms if end_ms is not None else 2**63 - 1
        kept = [index for index, stamp in enumerate(stamps) if low <= stamp < high]
        if len(kept) == len(stamps):
            return self
        columns = {name: array(values.typecode, [values[i] for i in kept]) for name, values in self.columns.items()}
        return Ticks(self.local_symbol, self.name, columns)

    def tick(self, index: int) -> TickData:
        """The engine's TickData of one tick, exactly as the desk saw it."""
        symbol, exchange = split_local_symbol(self.local_symbol)
        values = {column: self.columns[column][index] for column in COLUMNS}
        moment = datetime.fromtimestamp(values.pop("datetime") / 1000, SHANGHAI)
        day = number_day(values.pop("trading_day"))
        return TickData(symbol, Exchange(exchange), moment, day, self.name, **values)

    def __iter__(self) -> Iterator[TickData]:
        return (self.tick(index) for index in range(len(self)))

    def record(self, index: int) -> dict[str, Any]:
        """What a live strategy's on_tick gets for this tick (TickData.to_dict(): the same names and values)."""
        return self.tick(index).to_dict()

    # --- files: a backtest's process reads its data from one ----------------------------------------------
    def to_file(self, path: str | Path) -> None:
        layout = [[name, self.columns[name].typecode] for name in COLUMNS]
        header = json.dumps({"local_symbol": self.local_symbol, "name": self.name, "count": len(self),
                             "columns": layout}).encode()  # fmt: skip
        with open(path, "wb") as handle:
            handle.write(FILE_MAGIC + _LENGTH.pack(len(header)) + header)
            for name in COLUMNS:
                self.columns[name].tofile(handle)

    @classmethod
    def from_file(cls, path: str | Path) -> Ticks:
        with open(path, "rb") as handle:
            if handle.read(len(FILE_MAGIC)) != FILE_MAGIC:
                raise ValueError(f"{path} is not a ticks file")
            (length,) = _LENGTH.unpack(handle.read(_LENGTH.size))
            header = json.loads(handle.read(length))
            count = int(header["count"])
            if [name for name, _ in header["columns"]] != list(COLUMNS):
                raise ValueError(f"{path}: a ticks file of other columns")
            columns: dict[str, array] = {}
            for name, typecode in header["columns"]:
                values = array(typecode)
                values.fromfile(handle, count)
                columns[name] = values
        return cls(header["local_symbol"], header["name"], columns)


def load_ticks(store: TickStore, local_symbol: str, start_ms: int | None = None, end_ms: int | None = None) -> Ticks:
    """The recorded ticks of an instrument stamped in [start_ms, end_ms) (None: open), in arrival order.

    NoTicks when none are recorded there.
    """
    ticks = Ticks.from_chunks(local_symbol, store.load_tick_chunks(local_symbol, start_ms, end_ms))
    ticks = ticks.slice(start_ms, end_ms)
    if not len(ticks):
        raise NoTicks(f"no ticks of {local_symbol} recorded in that range")
    return ticks
