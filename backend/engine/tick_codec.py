"""Recorded ticks packed compactly: one chunk of one instrument's ticks as columns in a few bytes a tick.

Why not a JSON row per tick: a tick has 34 numbers, most of which do not change from one tick to the
next (the day's open, limits, pre-close) or change by a few price ticks (the book). So each column is
made an integer column (prices scaled by the smallest power of ten that gives them back exactly;
what cannot be scaled, such as average_price, as the bits of the double), stored as the differences
between successive values (zigzag, so small negative steps are small too), byte-shuffled (all the
lowest bytes together, then the next...) and deflated. Every value comes back bit for bit.

Pure functions of their inputs (no I/O): the recorder encodes on its writer's thread, the lab decodes.
"""

from __future__ import annotations

import struct
import zlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import accumulate

from backend.engine.objects import SHANGHAI, TickData

MAGIC = b"CTK1"
RAW = 0xFF  # a float column kept as the bits of its doubles (differences by XOR)
MAX_DECIMALS = 8  # prices scaled by at most 10**8 (a value below 2**53 after scaling stays exact)
_EXACT_BELOW = float(2**53)
_EPOCH = datetime.fromtimestamp(0, SHANGHAI)
_HEADER = struct.Struct("<4sIB")  # magic, tick count, column count
# The columns a chunk holds, in TickData's order; `datetime` as epoch ms, `trading_day` as YYYYMMDD.
INT_COLUMNS = ("datetime", "trading_day", "volume",
               "bid_volume_1", "bid_volume_2", "bid_volume_3", "bid_volume_4", "bid_volume_5",
               "ask_volume_1", "ask_volume_2", "ask_volume_3", "ask_volume_4", "ask_volume_5")  # fmt: skip
FLOAT_COLUMNS = ("last_price", "turnover", "open_interest", "open_price", "high_price", "low_price", "pre_close",
                 "pre_settlement_price", "limit_up", "limit_down", "average_price",
                 "bid_price_1", "bid_price_2", "bid_price_3", "bid_price_4", "bid_price_5",
                 "ask_price_1", "ask_price_2", "ask_price_3", "ask_price_4", "ask_price_5")  # fmt: skip
COLUMNS = INT_COLUMNS + FLOAT_COLUMNS


class CodecError(ValueError):
    """A chunk that is not one this codec wrote (or was damaged)."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """One instrument's ticks decoded: its name and a column (array 'q' or 'd') per COLUMNS name."""

    name: str
    columns: dict[str, array]

    def __len__(self) -> int:
        return len(self.columns["datetime"])


def epoch_ms(moment: datetime) -> int:
    """Exact epoch milliseconds (a tick's time has whole milliseconds: CTP's UpdateMillisec)."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def day_number(day: date) -> int:
    return day.year * 10_000 + day.month * 100 + day.day


def number_day(number: int) -> date:
    return date(number // 10_000, number // 100 % 100, number % 100)


def encode(ticks: Sequence[TickData]) -> bytes:
    """Pack one instrument's ticks (in arrival order) into a chunk. All share `name` (the first tick's)."""
    if not ticks:
        raise ValueError("no ticks to encode")
    name = ticks[0].name.encode()
    modes = bytearray()
    packed: list[bytes] = []
    for column in COLUMNS:
        values = _int_values(ticks, column) if column in INT_COLUMNS else [getattr(t, column) for t in ticks]
        mode, integers = (0, values) if column in INT_COLUMNS else _as_integers(values)
        modes.append(mode)
        packed.append(_differences(integers, mode == RAW))
    body = _shuffle(b"".join(packed))
    header = _HEADER.pack(MAGIC, len(ticks), len(COLUMNS)) + bytes(modes) + struct.pack("<H", len(name)) + name
    return zlib.compress(header + body, 6)


def decode(blob: bytes) -> Chunk:
    try:
        raw = zlib.decompress(blob)
        magic, count, width = _HEADER.unpack_from(raw)
    except (zlib.error, struct.error) as error:
        raise CodecError(f"not a tick chunk: {error}") from None
    if magic != MAGIC or width != len(COLUMNS):
        raise CodecError("not a tick chunk of this version")
    offset = _HEADER.size
    modes = raw[offset : offset + width]
    (name_length,) = struct.unpack_from("<H", raw, offset + width)
    offset += width + 2
    name = raw[offset : offset + name_length].decode()
    body = _unshuffle(raw[offset + name_length :], count * width)
    columns: dict[str, array] = {}
    for index, column in enumerate(COLUMNS):
        steps = body[index * count : (index + 1) * count]
        columns[column] = _column(steps, modes[index], column in INT_COLUMNS)
    return Chunk(name, columns)


# --- columns to integers and back ---------------------------------------------------------------------


def _int_values(ticks: Sequence[TickData], column: str) -> list[int]:
    if column == "datetime":
        return [epoch_ms(tick.datetime) for tick in ticks]
    if column == "trading_day":
        return [day_number(tick.trading_day) for tick in ticks]
    return [int(getattr(tick, column)) for tick in ticks]


def _as_integers(values: list[float]) -> tuple[int, list[int]]:
    """The smallest decimal scale giving every value back exactly, or the doubles' bits (RAW)."""
    for decimals in range(MAX_DECIMALS + 1):
        scale = 10**decimals
        scaled = [round(value * scale) for value in values if abs(value * scale) < _EXACT_BELOW]
        if len(scaled) == len(values) and all(n / scale == v for n, v in zip(scaled, values, strict=True)):
            return decimals, scaled
    return RAW, list(array("q", array("d", values).tobytes()))


def _differences(values: list[int], xor: bool) -> bytes:
    previous = 0
    steps = array("Q")
    for value in values:
        step = value ^ previous if xor else value - previous
        previous = value
        steps.append((step << 1) if step >= 0 else ((-step) << 1) - 1)  # zigzag
    return steps.tobytes()


def _column(steps: array, mode: int, integer: bool) -> array:
    signed = [(z >> 1) if not z & 1 else -((z + 1) >> 1) for z in steps]
    if mode == RAW:
        values = array("q", accumulate(signed, lambda a, b: a ^ b))
        return array("d", values.tobytes())
    totals = list(accumulate(signed))
    if integer:
        return array("q", totals)
    scale = 10**mode
    return array("d", [total / scale for total in totals]) if mode else array("d", map(float, totals))


def _shuffle(data: bytes) -> bytes:
    """Bytes of equal significance together: the high bytes of small steps are long runs of zeros."""
    return b"".join(data[plane::8] for plane in range(8))


def _unshuffle(data: bytes, count: int) -> array:
    if len(data) != count * 8:
        raise CodecError("a tick chunk of the wrong length")
    out = bytearray(count * 8)
    for plane in range(8):
        out[plane::8] = data[plane * count : (plane + 1) * count]
    return array("Q", bytes(out))
