"""Trading sessions by product code and the tick-hours check (lib.sessions, CTP.md §5)."""

from __future__ import annotations

from datetime import time

import pytest

from lib.sessions import (
    BOND_DAY,
    DAY,
    INDEX_DAY,
    NIGHT_0100,
    NIGHT_0230,
    NIGHT_2300,
    in_tick_hours,
    product_of,
    sessions_for,
    tick_hours,
)


def at(text: str) -> time:
    return time.fromisoformat(text)


@pytest.mark.parametrize(
    ("product", "sessions"),
    [
        ("rb", NIGHT_2300), ("cu", NIGHT_0100), ("au", NIGHT_0230), ("sc", NIGHT_0230), ("jd", DAY),
        ("MA", NIGHT_2300), ("AP", DAY), ("IF", INDEX_DAY), ("T", BOND_DAY), ("si", DAY),
        ("cu_o", NIGHT_0100), ("m_o", NIGHT_2300), ("MA_o", NIGHT_2300),  # options: their underlying's hours
        ("IO", INDEX_DAY), ("HO", INDEX_DAY), ("MO", INDEX_DAY),  # CFFEX index options have codes of their own
    ],
)  # fmt: skip
def test_sessions_by_product_code(product: str, sessions: tuple) -> None:
    assert sessions_for(product) == sessions


@pytest.mark.parametrize("product", ["", "zz", "zz_o", "RB", "IO2601"])
def test_unknown_products_have_no_sessions(product: str) -> None:
    assert sessions_for(product) is None


@pytest.mark.parametrize(
    ("symbol", "product"),
    [("rb2601", "rb"), ("MA601", "MA"), ("m2605-C-2900", "m"), ("IO2512-P-3900", "IO"), ("cu2601C78000", "cu"),
     ("T2603", "T"), ("", "")],
)  # fmt: skip
def test_product_of_symbol(symbol: str, product: str) -> None:
    assert product_of(symbol) == product


@pytest.mark.parametrize(
    ("clock", "kept"),
    [
        ("09:30:00", True),
        ("10:15:00", True), ("10:15:59", True), ("10:16:00", False),  # a close keeps its closing minute
        ("10:24:59", False), ("10:25:00", True),  # 5 minutes before the 10:30 reopening
        ("11:31:00", False), ("12:00:00", False), ("13:24:59", False), ("13:25:00", True),
        ("15:00:00", True), ("15:00:59", True), ("15:01:00", False), ("17:00:00", False),
        ("08:54:59", False), ("08:55:00", True), ("08:59:00", True),  # the opening auction's tick
        ("20:54:59", False), ("20:59:00", True), ("21:00:00", True),  # ... and the night's
        ("23:59:59", True), ("00:00:00", True), ("00:30:00", True),  # a night session past midnight
        ("02:29:59", True), ("02:30:30", True), ("02:31:00", False), ("03:00:00", False), ("06:00:00", False),
    ],
)  # fmt: skip
def test_tick_hours_of_a_night_session_past_midnight(clock: str, kept: bool) -> None:
    assert in_tick_hours(NIGHT_0230, at(clock)) is kept


@pytest.mark.parametrize(
    ("sessions", "clock", "kept"),
    [
        (NIGHT_2300, "22:59:59", True), (NIGHT_2300, "23:00:30", True), (NIGHT_2300, "23:01:00", False),
        (NIGHT_2300, "00:30:00", False), (NIGHT_0100, "00:59:59", True), (NIGHT_0100, "01:01:00", False),
        (DAY, "20:59:00", False), (DAY, "21:30:00", False), (DAY, "08:59:00", True),  # no night session
        (INDEX_DAY, "09:25:00", True), (INDEX_DAY, "09:24:59", False), (INDEX_DAY, "12:00:00", False),
        (BOND_DAY, "15:15:00", True), (BOND_DAY, "15:16:00", False),
    ],
)  # fmt: skip
def test_tick_hours_of_other_tables(sessions: tuple, clock: str, kept: bool) -> None:
    assert in_tick_hours(sessions, at(clock)) is kept


def test_tick_hours_is_one_flag_a_second_and_shared() -> None:
    hours = tick_hours(NIGHT_2300)
    assert len(hours) == 86_400 and tick_hours(NIGHT_2300) is hours
