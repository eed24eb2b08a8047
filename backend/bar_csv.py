"""A CSV of bars as the desk reads it: the names its columns may have, and the forms of its datetimes.

Shared by the desk's import (backend/bars_import.py) and the lab's reader (backend/lab/data.py), and kept
apart from both so that the lab's command line, which reads the CSV while its child starts, does not load
the engine's modules to read a header line.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")  # as backend.engine.objects.SHANGHAI: a naive datetime is exchange time

COLUMNS: dict[str, tuple[str, ...]] = {
    "datetime": ("datetime", "date_time", "timestamp", "bar_time", "日期时间"),
    "date": ("date", "trading_date", "日期"),
    "time": ("time", "时间"),
    "open": ("open", "open_price", "开盘价", "开盘"),
    "high": ("high", "high_price", "最高价", "最高"),
    "low": ("low", "low_price", "最低价", "最低"),
    "close": ("close", "close_price", "收盘价", "收盘"),
    "volume": ("volume", "vol", "成交量"),
    "turnover": ("turnover", "amount", "money", "成交额"),
    "open_interest": ("open_interest", "openinterest", "oi", "hold", "position", "持仓量"),
}
ALIASES = {alias: name for name, aliases in COLUMNS.items() for alias in aliases}
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d")
_TIME_FORMATS = ("%H:%M:%S", "%H:%M", "%H%M%S")


def _key(header: str) -> str:
    return header.strip().lower().replace(" ", "_").replace("-", "_")


def header_columns(header: list[str]) -> tuple[dict[str, int], list[str]]:
    """Each known column's index by its name, and what is wrong with the header ("line 1: ...")."""
    errors: list[str] = []
    found: dict[str, int] = {}
    for index, text in enumerate(header):
        name = ALIASES.get(_key(text))
        if name is None:
            errors.append(f"line 1: unknown column {text.strip()!r} (known: {', '.join(COLUMNS)})")
        elif name in found:
            errors.append(f"line 1: column {text.strip()!r} repeats {header[found[name]].strip()!r}")
        else:
            found[name] = index
    if "datetime" in found and ("date" in found or "time" in found):
        errors.append("line 1: give either datetime or date and time, not both")
    if "datetime" not in found and "date" not in found:
        errors.append("line 1: missing column datetime (or date and time)")
    missing = [name for name in ("open", "high", "low", "close") if name not in found]
    if missing:
        errors.append(f"line 1: missing column(s) {', '.join(missing)}")
    return found, errors


def parse_moment(text: str) -> datetime:
    """A datetime cell in exchange time (a naive one is taken as such; one with a zone is converted)."""
    text = text.strip()
    try:
        moment = datetime.fromisoformat(text.replace("/", "-"))
    except ValueError:
        moment = None
    if moment is None:
        day, _, clock = text.partition(" ")
        moment = datetime.combine(_parse(day, _DATE_FORMATS).date(), _parse(clock, _TIME_FORMATS).time() if clock
                                  else time(0))  # fmt: skip
    return moment.replace(tzinfo=SHANGHAI) if moment.tzinfo is None else moment.astimezone(SHANGHAI)


def _parse(text: str, formats: tuple[str, ...]) -> datetime:
    for pattern in formats:
        try:
            return datetime.strptime(text.strip(), pattern)
        except ValueError:
            continue
    raise ValueError(text)
