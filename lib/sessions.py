"""Trading sessions of China's futures products, by product code, and the check of a tick's clock.

Why here, outside the sim and the desk's engine: a CTP counter does not report trading hours, yet
the simulated counter (which ticks and takes orders in them) and the desk (which drops ticks a
front sends outside them, CTP.md §5) both need them. So the one table lives here, keyed by the
ProductID a counter reports with every instrument.

Times are exchange time (Asia/Shanghai), "HH:MM" pairs, half-open ``[start, end)``; a session
written with ``end <= start`` passes midnight, e.g. ``("21:00", "02:30")``. Typical hours of
2024-2025 (CTP.md §7); the exchanges change them now and then, and holidays are not modelled.
"""

from __future__ import annotations

from datetime import time
from functools import lru_cache

Session = tuple[str, str]
Sessions = tuple[Session, ...]

DAY: Sessions = (("09:00", "10:15"), ("10:30", "11:30"), ("13:30", "15:00"))
NIGHT_2300: Sessions = (("21:00", "23:00"), *DAY)
NIGHT_0100: Sessions = (("21:00", "01:00"), *DAY)
NIGHT_0230: Sessions = (("21:00", "02:30"), *DAY)
INDEX_DAY: Sessions = (("09:30", "11:30"), ("13:00", "15:00"))  # CFFEX stock index futures and options
BOND_DAY: Sessions = (("09:30", "11:30"), ("13:00", "15:15"))  # CFFEX treasury futures

_PRODUCTS_BY_HOURS: dict[Sessions, tuple[str, ...]] = {
    NIGHT_0100: ("cu", "al", "zn", "pb", "ni", "sn", "ss", "ao", "bc"),
    NIGHT_0230: ("au", "ag", "sc"),
    NIGHT_2300: ("rb", "hc", "ru", "br", "bu", "fu", "sp", "lu", "nr", "i", "m", "y", "p", "a", "b", "c", "cs",
                 "jm", "j", "l", "v", "pp", "eg", "eb", "pg", "MA", "SR", "CF", "TA", "OI", "RM", "FG", "SA",
                 "PF", "SH", "PX", "CY"),
    DAY: ("wr", "ec", "jd", "lh", "AP", "UR", "SF", "SM", "CJ", "PK", "si", "lc", "ps"),
    INDEX_DAY: ("IF", "IH", "IC", "IM"),
    BOND_DAY: ("TS", "TF", "T", "TL"),
}  # fmt: skip
# Futures products (ProductID) -> their sessions.
PRODUCT_SESSIONS: dict[str, Sessions] = {
    product: hours for hours, products in _PRODUCTS_BY_HOURS.items() for product in products
}
# Options trade the hours of their underlying: "cu_o" those of "cu"; CFFEX's index options have codes of their own.
OPTION_UNDERLYINGS = {"IO": "IF", "HO": "IH", "MO": "IM"}

AUCTION_LEEWAY = 5 * 60  # seconds before a session opens: the call auction's ticks (08:59, 20:59) are real
CLOSE_GRACE = 60  # seconds after a session ends: closing ticks are stamped 15:00:00 and a little later
DAY_SECONDS = 24 * 60 * 60


def sessions_for(product: str) -> Sessions | None:
    """The sessions of a futures or options product code; None when the table does not know it."""
    found = PRODUCT_SESSIONS.get(product)
    if found is None:
        underlying = OPTION_UNDERLYINGS.get(product) or (product[:-2] if product.endswith("_o") else "")
        found = PRODUCT_SESSIONS.get(underlying)
    return found


def product_of(symbol: str) -> str:
    """The product code an instrument symbol starts with ("rb2601" -> "rb", "MA601" -> "MA")."""
    end = 0
    while end < len(symbol) and symbol[end].isascii() and symbol[end].isalpha():
        end += 1
    return symbol[:end]


def _seconds(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 3600 + int(minutes) * 60


@lru_cache(maxsize=64)
def tick_hours(sessions: Sessions) -> bytes:
    """One flag per second of the day: may a tick of an instrument with these sessions be stamped then?

    Yes inside a session, from AUCTION_LEEWAY before each opening (the opening auction's tick) and
    up to CLOSE_GRACE after each close (the closing ticks). A table rather than interval tests: a
    desk checks every tick of the market against it (`flags[seconds_of_day]`).
    """
    flags = bytearray(DAY_SECONDS)
    for start, end in sessions:
        begin, finish = _seconds(start), _seconds(end)
        if finish <= begin:  # passes midnight
            finish += DAY_SECONDS
        for second in range(begin - AUCTION_LEEWAY, finish + CLOSE_GRACE):
            flags[second % DAY_SECONDS] = 1
    return bytes(flags)


def seconds_of_day(clock: time) -> int:
    return clock.hour * 3600 + clock.minute * 60 + clock.second


def in_tick_hours(sessions: Sessions, clock: time) -> bool:
    """True if a tick stamped `clock` (exchange time) may belong to one of the sessions (see tick_hours)."""
    return bool(tick_hours(sessions)[seconds_of_day(clock)])
