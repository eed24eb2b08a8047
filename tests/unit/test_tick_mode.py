"""Tick mode on hand-made ticks: orders meet each tick's book by the sim's own matching rules."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from backend.engine.constants import Exchange
from backend.engine.objects import SHANGHAI, TickData
from backend.lab.engine import run_backtest
from backend.lab.report import LabError, Report
from backend.lab.spec import BacktestSpec
from backend.lab.tick_mode import TickBook
from backend.lab.ticks import Ticks
from backend.sim.trading import incoming_fills

SYMBOL = "m2605.DCE"
START = datetime(2026, 1, 6, 9, 0, 0, tzinfo=SHANGHAI)
DAY = date(2026, 1, 6)


def tick(seconds: float, volume: int, asks: list[tuple[float, int]], bids: list[tuple[float, int]],
         last: float | None = None) -> TickData:  # fmt: skip
    """A tick with up to five levels a side; the last price defaults to the best ask."""
    levels: dict[str, float | int] = {}
    for side, book in (("ask", asks), ("bid", bids)):
        for number, (price, lots) in enumerate(book, start=1):
            levels[f"{side}_price_{number}"], levels[f"{side}_volume_{number}"] = price, lots
    return TickData("m2605", Exchange.DCE, START + timedelta(seconds=seconds), DAY, "豆粕2605",
                    last_price=asks[0][0] if last is None else last, volume=volume, turnover=0.0,
                    open_interest=1000.0, pre_settlement_price=3000.0, limit_up=3200.0, limit_down=2800.0,
                    **levels)  # fmt: skip


def strategy(actions: str, extra: str = "") -> str:
    """A strategy doing `actions` (code using `n`, the tick count from 1, and `tick`) in on_tick."""
    body = "\n".join("        " + line for line in actions.strip().splitlines())
    return (f"from backend.strategy import Strategy\n\n\nclass Script(Strategy):\n    instruments = [{SYMBOL!r}]\n"
            f"    n = 0\n    seen = []\n{extra}\n    def on_tick(self, tick):\n        self.n += 1\n"
            f"        n = self.n\n{body}\n\n\next = Script('script')\n")  # fmt: skip


def run(code: str, ticks: list[TickData]) -> Report:
    return run_backtest(BacktestSpec(code=code, local_symbol=SYMBOL, mode="tick"), Ticks.from_ticks(ticks))


def fills(report: Report) -> list[tuple[str, str, float, int]]:
    return [(t["direction"], t["offset"], t["price"], t["volume"]) for t in report.trades]


BOOK = dict(asks=[(3000.0, 2), (3001.0, 3), (3002.0, 5)], bids=[(2999.0, 4), (2998.0, 6)])


def test_an_incoming_marketable_limit_walks_the_book_and_takes_the_volume_it_fills():
    code = strategy("""
if n == 1:
    self.buy(3001, 4, tick)   # 2 at 3000, 2 of the 3 at 3001
    self.buy(3002, 3, tick)   # 3000 is emptied by the first: the walk goes on, the 1 left at 3001 and 2 at 3002
if n == 2:
    self.short(2998, 12, tick)   # 4 at 2999, 6 at 2998; the other 2 rest at 2998
""")
    report = run(code, [tick(0, 10, **BOOK), tick(1, 11, **BOOK)])
    assert fills(report) == [("long", "open", 3000.0, 2), ("long", "open", 3001.0, 2), ("long", "open", 3001.0, 1),
                             ("long", "open", 3002.0, 2), ("short", "open", 2999.0, 4),
                             ("short", "open", 2998.0, 6)]  # fmt: skip
    assert [(o["traded"], o["status"]) for o in report.orders] == [(4, "alltraded"), (3, "alltraded"),
                                                                    (10, "cancelled")]  # fmt: skip
    # The sim's own rule, read off the same book: the lab calls exactly this.
    book = TickBook.of(tick(0, 10, **BOOK))
    assert incoming_fills(book, "0", 3001.0, 4, 1) == [(3000.0, 2), (3001.0, 2)]


def test_a_resting_limit_fills_at_its_own_price_when_a_later_book_crosses_it():
    code = strategy("""
if n == 1:
    self.buy(2995, 5, tick)   # below the ask: rests
""")
    crossing = dict(asks=[(2994.0, 2), (2995.0, 2), (2996.0, 9)], bids=[(2993.0, 1)])
    rest = dict(asks=[(2995.0, 10)], bids=[(2994.0, 1)])
    report = run(code, [tick(0, 10, **BOOK), tick(1, 11, **BOOK), tick(2, 12, **crossing), tick(3, 13, **rest)])
    # 2 + 2 lots at or below 2995 cross it: 4 fill at 2995 (its price, not the book's 2994); the last at tick 4.
    assert fills(report) == [("long", "open", 2995.0, 4), ("long", "open", 2995.0, 1)]
    assert [t["time"] for t in report.trades] == [(START + timedelta(seconds=s)).isoformat() for s in (2, 3)]


def test_a_cancelled_order_does_not_fill_when_the_book_later_crosses():
    code = strategy("""
if n == 1:
    self.placed = self.buy(2995, 5, tick)["order"]["order_id"]
if n == 2:
    self.answer = self.cancel(self.placed)
    assert self.answer["ok"], self.answer
    assert not self.active_orders
""")
    crossing = dict(asks=[(2990.0, 50)], bids=[(2989.0, 1)])
    report = run(code, [tick(0, 10, **BOOK), tick(1, 11, **BOOK), tick(2, 12, **crossing)])
    assert fills(report) == []
    assert [order["status"] for order in report.orders] == ["cancelled"]


def test_nothing_fills_before_the_instrument_has_traded_and_limits_are_the_ticks():
    code = strategy("""
if n == 1:
    self.buy(3000, 1, tick)     # volume 0: the sim fills nothing until the day's first trade; rests
if n == 2:
    self.buy(3201, 1, tick)     # above the tick's limit up: refused as the sim's exchange refuses it
""")
    report = run(code, [tick(0, 0, **BOOK), tick(1, 5, asks=[(3001.0, 5)], bids=[(2999.0, 5)])])
    assert fills(report) == []  # the resting 3000 is not crossed by an ask of 3001
    assert [(o["status"], o["status_msg"]) for o in report.orders] == [("cancelled", "已撤单"),
                                                                        ("rejected", "报单价格超过涨停板")]  # fmt: skip


def test_on_tick_gets_the_live_ticks_fields_and_on_bar_the_engines_bars():
    code = strategy("""
self.seen.append(tick)
""", extra="""
    bars = []

    def on_bar(self, bar):
        self.bars.append(bar)

    def on_stop(self):
        assert [t.__dict__ for t in self.seen] == self.expected_ticks, "ticks"
        assert len(self.bars) == 1 and self.bars[0].interval == "1m", self.bars
        bar = self.bars[0]
        assert (bar.open_price, bar.high_price, bar.low_price, bar.close_price) == (3000.0, 3003.0, 3000.0, 3003.0)
        assert bar.datetime == "2026-01-06T09:00:00+08:00"
        self.info("checked")
""")
    ticks = [tick(0, 10, **BOOK), tick(20, 12, last=3003.0, **BOOK), tick(61, 15, **BOOK)]
    expected = [t.to_dict() for t in ticks]
    code = code.replace("ext = Script('script')", f"ext = Script('script')\next.expected_ticks = {expected!r}")
    report = run(code, ticks)
    assert [line["message"] for line in report.logs] == ["checked"]


def test_a_users_error_ends_the_run_with_their_line():
    with pytest.raises(LabError, match="line 12"):
        run(strategy("raise RuntimeError('boom')"), [tick(0, 10, **BOOK)])
