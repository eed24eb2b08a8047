"""The CSV import's parsing and validation (backend/bars_import.py): every error with its line, nothing half-read."""

from __future__ import annotations

from datetime import datetime

import pytest

from backend.bars_import import ImportRefused, parse_bars
from backend.engine.constants import Interval
from backend.engine.objects import SHANGHAI

GOOD = """datetime,open,high,low,close,volume,turnover,open_interest
2026-01-05 09:00:00,3100,3105,3098,3104,120,3724800,150000
2026-01-05 09:01:00,3104,3104,3101,3102,80,2482000,150010
"""


def refused(text: str, interval: str = "1m") -> list[str]:
    with pytest.raises(ImportRefused) as caught:
        parse_bars(text, "rb2601.SHFE", interval)
    return caught.value.errors


def test_a_good_file_gives_its_bars_in_exchange_time():
    bars = parse_bars(GOOD, "rb2601.SHFE")
    assert [bar.datetime for bar in bars] == [datetime(2026, 1, 5, 9, 0, tzinfo=SHANGHAI),
                                              datetime(2026, 1, 5, 9, 1, tzinfo=SHANGHAI)]  # fmt: skip
    first = bars[0]
    assert (first.symbol, first.exchange.value, first.interval) == ("rb2601", "SHFE", Interval.MINUTE)
    assert (first.open_price, first.high_price, first.low_price, first.close_price) == (3100, 3105, 3098, 3104)
    assert (first.volume, first.turnover, first.open_interest) == (120, 3724800, 150000)


def test_common_export_shapes_are_read():
    exported = ("\ufeffDate,Time,Open,High,Low,Close,Vol,Amount,OI\n"
                "20260105,09:00,1,2,1,2,3,4,5\n2026/01/05,09:01:00,2,2,1,1,0,,\n")
    bars = parse_bars(exported, "rb2601.SHFE")
    assert [bar.datetime.minute for bar in bars] == [0, 1] and bars[1].turnover == 0
    chinese = "日期时间,开盘价,最高价,最低价,收盘价,成交量\n2026-01-05T21:00:00+08:00,5,6,4,5,1\n"
    assert parse_bars(chinese, "rb2601.SHFE")[0].datetime.hour == 21
    daily = "date,open,high,low,close\n2026-01-05,1,2,1,2\n2026-01-06,2,3,2,3\n"
    assert len(parse_bars(daily, "rb2601.SHFE", "1d")) == 2
    unsorted = "datetime,open,high,low,close\n2026-01-05 09:01,1,2,1,2\n2026-01-05 09:00,1,2,1,2\n"
    assert [bar.datetime.minute for bar in parse_bars(unsorted, "rb2601.SHFE")] == [0, 1]


def test_every_bad_row_is_reported_with_its_line():
    text = """datetime,open,high,low,close,volume
2026-13-05 09:00:00,1,2,1,2,1
2026-01-05 09:01:00,3,2,1,2,1
2026-01-05 09:02:00,1,2,1,2,-5
2026-01-05 09:03:00,1,2,1,2,1
2026-01-05 09:03:00,1,2,1,2,1
2026-01-05 09:04:30,1,2,1,2,1
2026-01-05 09:05:00,x,2,1,2,1
2026-01-05 09:06:00,1,2,1,2
2026-01-05 09:07:00,1,2,1.5,1.2,1
2026-01-05 09:08:00,0,2,0,2,1
2026-01-05 09:09:00,1,2,1,2,1.5
2026-01-05 09:10:00,1,inf,1,2,1
"""
    errors = refused(text)
    expected = [(2, "is not a date"), (3, "high 2 is below"), (4, "volume '-5' is negative"),
                (6, "duplicate datetime"), (7, "no seconds"), (8, "open 'x' is not a number"),
                (9, "5 fields, the header has 6"), (10, "low 1.5 is above"), (11, "prices must be positive"),
                (12, "not a whole number"), (13, "not a finite number")]  # fmt: skip
    assert len(errors) == len(expected), errors
    for error, (line, words) in zip(errors, expected, strict=True):
        assert error.startswith(f"line {line}: ") and words in error, (error, line, words)
    assert "line 5" in errors[3]  # a duplicate names the first row too


def test_header_errors():
    assert refused("datetime,open,high,low,close,colour\n2026-01-05 09:00,1,2,1,2,red\n") == [
        "line 1: unknown column 'colour' (known: datetime, date, time, open, high, low, close, volume, turnover, "
        "open_interest)"
    ]
    assert any("missing column(s) high, low" in error for error in refused("datetime,open,close\n"))
    assert any("missing column datetime" in error for error in refused("open,high,low,close\n1,2,1,2\n"))
    assert any("repeats" in error for error in refused("datetime,open,open_price,high,low,close\n"))
    assert refused("") == ["line 1: no header (datetime, open, high, low, close, volume, turnover, open_interest)"]
    assert refused("datetime,open,high,low,close\n\n") == ["the file has a header but no rows"]


def test_bar_starts_must_fit_the_interval():
    assert "multiple of 5 minutes" in refused("datetime,open,high,low,close\n2026-01-05 09:03,1,2,1,2\n", "5m")[0]
    assert "trading day" in refused("datetime,open,high,low,close\n2026-01-05 09:00,1,2,1,2\n", "1d")[0]
    assert "local_symbol" in refused_target("rb2601")
    assert "interval" in refused_target("rb2601.SHFE", "2m")


def refused_target(local_symbol: str, interval: str = "1m") -> str:
    with pytest.raises(ImportRefused) as caught:
        parse_bars(GOOD, local_symbol, interval)
    return caught.value.errors[0]
