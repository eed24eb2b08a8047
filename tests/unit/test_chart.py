"""The bar room's minute clock (backend/engine/chart.py): what hangs on a minute's end is told it once."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from backend.engine.chart import BarRoom, aggregate_minutes, save_over_stored
from backend.engine.constants import Exchange, Interval
from backend.engine.objects import SHANGHAI, BarData, TickData, epoch_ms
from model.sqlite_store import SqliteStore


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def test_each_minutes_end_is_told_once_after_its_bars_and_the_grace() -> None:
    heard: list[tuple[str, Any]] = []

    def on_bars(bars: list[BarData]) -> None:
        heard.extend(("bar", bar.datetime) for bar in bars if bar.interval is Interval.MINUTE)

    room = BarRoom(on_bars, grace=1.5, on_minute=lambda minute: heard.append(("minute", minute)))
    room.update_tick(TickData("rb2601", Exchange.SHFE, at("2025-01-02 22:59:30"), date(2025, 1, 3), last_price=100.0))
    room.close_due(at("2025-01-02 22:59:40"))  # the first call only sets the mark: 22:58 ended unwatched
    room.close_due(at("2025-01-02 23:00:01.4"))  # 22:59 is over, but not its grace
    assert heard == []
    room.close_due(at("2025-01-02 23:00:01.5"))
    assert heard == [("bar", at("2025-01-02 22:59")), ("minute", at("2025-01-02 22:59"))]
    room.close_due(at("2025-01-02 23:00:40"))  # the same minute is not told twice
    room.close_due(at("2025-01-02 23:03:05"))  # minutes went by between two calls: the last one over, once
    assert heard[2:] == [("minute", at("2025-01-02 23:02"))]
    room.close_due(at("2025-01-02 23:05:00"), force=True)  # a shutdown's flush is no minute's end
    assert heard[3:] == []


def test_a_bar_begun_before_the_record_keeps_the_stored_minutes_before_it(tmp_path: Path) -> None:
    """A fresh desk's day: the sim's history stored 09:00-09:02 (its daily bar too), the room recorded from 09:03.
    The room's daily bar and 09:00 window are merged after the stored ones, not written over them."""
    store = SqliteStore(tmp_path / "bars.sqlite3")
    day = date(2025, 1, 3)
    history = [BarData("rb2601", Exchange.SHFE, Interval.MINUTE, at(f"2025-01-03 09:0{minute}"), open_, high, low,
                       close, 10, 10.0 * close * 10, 5000.0 + minute)  # fmt: skip
               for minute, (open_, high, low, close) in enumerate([(100, 104, 100, 103), (103, 103, 97, 98),
                                                                   (98, 99, 98, 99)])]  # fmt: skip
    store.save_bars(history + aggregate_minutes(history, lambda bar: day))
    stored_day = store.load_bar("rb2601.SHFE", Interval.DAILY, epoch_ms(at("2025-01-03 00:00")))
    assert stored_day is not None and (stored_day.open, stored_day.volume) == (100, 30)

    def on_bars(bars: list[BarData]) -> None:
        save_over_stored(store, bars, [bar for bar in bars if room.began_before_record(bar)])

    room = BarRoom(on_bars, grace=1.5)
    for moment, price, volume in [("09:03:10", 99.0, 500), ("09:03:40", 101.0, 510), ("09:04:20", 96.0, 530)]:
        room.update_tick(TickData("rb2601", Exchange.SHFE, at(f"2025-01-03 {moment}"), day, last_price=price,
                                  volume=volume, turnover=volume * 1000.0, open_interest=6000.0))  # fmt: skip
    room.close_due(at("2025-01-03 15:30"), force=True)
    whole = store.load_bar("rb2601.SHFE", Interval.DAILY, epoch_ms(at("2025-01-03 00:00")))
    assert whole is not None
    # open from the history, high/low over both, close from the record, volumes summed, the record's interest
    assert (whole.open, whole.high, whole.low, whole.close, whole.volume, whole.open_interest) == (
        100, 104, 96, 96, 30 + 30, 6000.0)  # fmt: skip
    assert whole.turnover == stored_day.turnover + 30 * 1000.0
    window = store.load_bar("rb2601.SHFE", Interval.MINUTE_5, epoch_ms(at("2025-01-03 09:00")))
    assert window is not None and (window.open, window.low, window.close, window.volume) == (100, 96, 96, 60)
    minute = store.load_bar("rb2601.SHFE", Interval.MINUTE, epoch_ms(at("2025-01-03 09:03")))
    assert minute is not None and (minute.open, minute.volume) == (99, 10)  # the record's own minutes as recorded
    store.close()
