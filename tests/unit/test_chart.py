"""The bar room's minute clock (backend/engine/chart.py): what hangs on a minute's end is told it once."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from backend.engine.chart import BarRoom
from backend.engine.constants import Exchange, Interval
from backend.engine.objects import SHANGHAI, BarData, TickData


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
