"""Bar history: the sim's generated past behind /bar and a strategy's load_bars, and the CSV import.

Over the app with the sim counter (test_web_api's fixtures). The instruments read here are never
subscribed, so the sim does not walk them: the price they stand at is the one history must end at.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from backend import sim
from backend.engine.constants import Exchange, Interval
from backend.engine.objects import SHANGHAI, BarData
from backend.history import to_bars
from backend.sim.calendar import trading_day_for
from backend.sim.history import HISTORY_DAYS, exchange_history, generate
from lib.sessions import sessions_for
from tests.integration.test_web_api import Web, first_contract

INTERVALS = ("1m", "5m", "15m", "30m", "1h", "1d")


def _bars(web: Web, name: str, interval: str = "1m") -> list[list[Any]]:
    return web.ok("GET", "/bar", query_string={"local_symbol": name, "interval": interval, "limit": 20_000})


def _moment(row: list[Any]) -> datetime:
    return datetime.fromtimestamp(row[0] / 1000, SHANGHAI)


def test_a_fresh_desk_serves_twenty_trading_days_ending_at_the_current_price(web_factory):
    web = web_factory()
    web.log_in()
    name = first_contract(web, "ag", "SHFE")  # a night session to 02:30
    symbol = name.split(".")[0]
    exchange = sim.control(web.sim_name)
    price = exchange.market.quotes[symbol].reference_price()
    minutes = _bars(web, name)
    assert minutes[-1][4] == price  # the walk ends exactly where the market stands
    days = {trading_day_for(_moment(row)) for row in minutes}
    assert len(days) >= HISTORY_DAYS
    clocks = {_moment(row).strftime("%H:%M") for row in minutes}
    assert {"21:00", "00:00", "02:29", "09:00", "13:30", "14:59"} <= clocks  # night sessions too
    assert not clocks & {"02:30", "10:15", "11:30", "15:00", "20:59"}  # nothing outside the sessions
    assert all(row[3] <= min(row[1], row[4]) <= max(row[1], row[4]) <= row[2] and row[5] > 0 for row in minutes)
    assert all(earlier[4] == later[1] for earlier, later in zip(minutes, minutes[1:], strict=False))  # continuous
    for interval, span in zip(INTERVALS[1:-1], (5, 15, 30, 60), strict=True):  # the engine's aggregation
        rows = _bars(web, name, interval)
        covered = [row for row in minutes if rows[0][0] <= row[0] < rows[-1][0] + span * 60_000]
        assert sum(row[5] for row in rows) == sum(row[5] for row in covered), interval
        assert min(row[3] for row in rows) == min(row[3] for row in covered), interval
        assert len(covered) >= len(minutes) - span, interval  # all but the window the engine is making
    daily = _bars(web, name, "1d")
    assert len(daily) >= HISTORY_DAYS
    first_day = trading_day_for(_moment(minutes[0]))
    assert sum(row[5] for row in minutes if trading_day_for(_moment(row)) == first_day) == daily[0][5]
    # once: asking again writes nothing and answers the same
    assert web.desk.history.ensure(name) == 0 and _bars(web, name) == minutes


def test_day_only_products_have_no_night_and_the_history_is_reproducible(web_factory, tmp_path):
    first = web_factory(tmp_path / "one")
    first.log_in()
    name = first_contract(first, "jd", "DCE")  # eggs: day sessions only
    assert sessions_for("jd") and len(sessions_for("jd")) == 3
    rows = _bars(first, name)
    assert {_moment(row).hour for row in rows} <= {9, 10, 11, 13, 14}
    # the same seed, end time and end price: the same bars (history is a pure function of them)
    exchange = sim.control(first.sim_name)
    end = datetime.fromisoformat(first.desk.store.get_value(f"bars.history.{name}"))  # where the fill ended it
    symbol = name.split(".")[0]
    again = exchange_history(exchange, symbol, end, end_price=rows[-1][4])
    assert [[int(m.start.timestamp() * 1000), m.open, m.high, m.low, m.close, m.volume] for m in again] == rows
    stored = {interval: _bars(first, name, interval) for interval in INTERVALS}
    made = to_bars(symbol, Exchange.DCE, again, end)
    for interval in INTERVALS:
        assert [bar.to_row() for bar in made if bar.interval.value == interval] == stored[interval], interval
    other = generate(symbol, sessions_for("jd"), 1.0, rows[-1][4], end, seed=exchange.settings.seed + 1)
    assert [m.close for m in other] != [row[4] for row in rows] and other[-1].close == rows[-1][4]  # another seed


def test_history_ends_where_the_record_begins(web_factory):
    web = web_factory()
    web.log_in()
    name = first_contract(web, "rb", "SHFE")
    store = web.desk.store
    start = datetime.now(SHANGHAI).replace(second=0, microsecond=0) - timedelta(minutes=3)
    recorded = BarData(name.split(".")[0], Exchange.SHFE, Interval.MINUTE, start, 3333.0, 3340.0, 3330.0, 3335.0, 7)
    daily = BarData(name.split(".")[0], Exchange.SHFE, Interval.DAILY,
                    datetime.combine(trading_day_for(start), datetime.min.time(), SHANGHAI), 1, 2, 1, 2, 9)  # fmt: skip
    store.save_bars([recorded, daily])
    rows = _bars(web, name)
    assert rows[-1][1:] == [3333.0, 3340.0, 3330.0, 3335.0, 7]  # the recorded bar is untouched
    assert rows[-2][4] == 3333.0 and rows[-2][0] < rows[-1][0]  # history closes at its open, before it
    assert _bars(web, name, "1d")[-1][5] == 9  # the recorded daily bar is not replaced


WARM = """
    def on_init(self):
        name = self.instruments[0]
        bars = self.load_bars(name, count=600)
        hours = self.load_bars(name, "1h", 50)
        self.info(f"warm {len(bars)} {bars[-1].datetime} {bars[-1].close_price} {bars[0].interval} {len(hours)}")
        try:
            self.load_bars(name, "2m", 10)
        except RuntimeError as error:
            self.info(f"refused {error}")
"""


def test_a_strategy_warms_up_in_on_init_from_the_history(tmp_path: Path):
    from tests.integration.test_strategies import code, make_desk

    made = make_desk(tmp_path)
    desk = next(made)
    try:
        name = desk.contract("rb", "SHFE")
        assert desk.call("post", "/code", text=code("warm", name, WARM)).status_code == 200
        assert desk.call("put", "/strategy", name="warm", operation="start").status_code == 200
        engine = desk.app.extensions["ctpdesk"].engine
        logs = desk.wait(lambda: [r.message for r in engine.logs if r.owner == "warm" and "refused" in r.message]
                         and [r.message for r in engine.logs if r.owner == "warm"], what="the warm-up")  # fmt: skip
        warm = next(message for message in logs if message.startswith("warm "))
        _, count, moment, close, interval, hours = warm.split(" ")
        assert (count, interval, hours) == ("600", "1m", "50")
        store = desk.app.extensions["ctpdesk"].store
        stored = {row[0]: row[4] for row in store.load_bars(name, "1m", None, None, 20_000)}
        assert stored[int(datetime.fromisoformat(moment).timestamp() * 1000)] == float(close)
        assert any("refused load_bars" in message and "2m" in message for message in logs)
    finally:
        next(made, None)


IMPORT = """datetime,open,high,low,close,volume,turnover,open_interest
2026-01-05 09:00:00,3100,3105,3098,3104,120,3724800,150000
2026-01-05 09:01:00,3104,3104,3101,3102,80,2482000,150010
2026-01-05 09:02:00,3102,3110,3102,3109,10,310000,150020
2026-01-05 09:05:00,3109,3109,3100,3101,5,155000,150030
"""
JAN_5 = int(datetime(2026, 1, 5, 9, tzinfo=SHANGHAI).timestamp() * 1000)


def test_post_bar_import_stores_a_valid_file_and_nothing_of_a_bad_one(web_factory):
    web = web_factory()  # not logged in: a real counter's desk has only what it records and imports
    web.log_in()
    assert web.call("POST", "/bar/import", token="", json={"local_symbol": "zz2601.SHFE", "csv": IMPORT})[0] == 401
    bad = IMPORT + "2026-01-05 09:06:00,3101,3100,3102,3101,5,0,0\n2026-01-05 09:07:00,3101,3101,3101,3101,-1,0,0\n"
    status, body = web.call("POST", "/bar/import", json={"local_symbol": "zz2601.SHFE", "csv": bad})
    assert status == 400 and "nothing imported" in body["msg"]
    assert [error.split(":")[0] for error in body["data"]] == ["line 6", "line 7"]
    assert web.desk.store.bar_count("zz2601.SHFE", "1m") == 0  # the valid rows were not stored either
    data = web.ok("POST", "/bar/import", json={"local_symbol": "zz2601.SHFE", "csv": IMPORT})
    assert data["rows"] == 4 and data["derived"] > 0 and data["first"].startswith("2026-01-05T09:00:00")
    rows = _bars(web, "zz2601.SHFE")
    assert [row[0] for row in rows] == [JAN_5 + minute * 60_000 for minute in (0, 1, 2, 5)]
    assert _bars(web, "zz2601.SHFE", "5m") == [[JAN_5, 3100, 3110, 3098, 3109, 210],
                                               [JAN_5 + 300_000, 3109, 3109, 3100, 3101, 5]]  # fmt: skip
    assert _bars(web, "zz2601.SHFE", "1d")[0][5] == 215
    # as a text/csv body too, with the fields in the query string
    response = web.client.post("/bar/import", data=IMPORT.replace("3104,120", "3104,121"), content_type="text/csv",
                               query_string={"local_symbol": "zz2601.SHFE"},
                               headers={"Authorization": f"JWT {web.token}"})  # fmt: skip
    assert response.status_code == 200, response.json
    assert _bars(web, "zz2601.SHFE")[0][5] == 121
    status, body = web.call("POST", "/bar/import", json={"local_symbol": "zz2601.SHFE"})
    assert status == 400 and body["msg"].startswith("csv:")


def test_the_command_line_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from backend.bars_import import main
    from model import open_store

    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(IMPORT, encoding="utf-8")
    bad.write_text(IMPORT.replace("2026-01-05 09:02:00", "2026-01-05 09:01:00"), encoding="utf-8")
    data_dir = tmp_path / "data"
    assert main([str(bad), "--symbol", "zz2601.SHFE", "--data-dir", str(data_dir)]) == 1
    assert "line 4: duplicate datetime" in capsys.readouterr().err
    assert main([str(good), "--symbol", "zz2601.SHFE", "--data-dir", str(data_dir)]) == 0
    assert "imported 4 1m bars of zz2601.SHFE" in capsys.readouterr().out
    store = open_store(data_dir)
    try:
        assert store.bar_count("zz2601.SHFE", Interval.MINUTE) == 4
    finally:
        store.close()


def test_a_bar_the_engine_saved_during_the_fill_is_not_replaced(web_factory):
    web = web_factory()
    web.log_in()
    name = first_contract(web, "cu", "SHFE")
    symbol = name.split(".")[0]
    store, history = web.desk.store, web.desk.history
    exchange = sim.control(web.sim_name)
    # what the engine would save between the fill reading "nothing recorded" and writing: the last minute
    start = exchange_history(exchange, symbol, exchange.now())[-1].start
    recorded = BarData(symbol, Exchange.SHFE, Interval.MINUTE, start, 1.0, 1.0, 1.0, 1.0, 1)
    original = history._first_recorded
    history._first_recorded = lambda local_symbol: (store.save_bars([recorded]), None)[1]
    try:
        assert history.ensure(name) > 0
    finally:
        history._first_recorded = original
    stamp = int(start.timestamp() * 1000)
    assert [row for row in _bars(web, name) if row[0] == stamp] == [[stamp, 1.0, 1.0, 1.0, 1.0, 1]]


def test_a_failed_fill_serves_what_is_stored_and_is_tried_again(web_factory, monkeypatch: pytest.MonkeyPatch):
    web = web_factory()
    web.log_in()
    name = first_contract(web, "i", "DCE")
    history = web.desk.history

    def broken(*_: Any) -> int:
        raise OSError("disk full")

    monkeypatch.setattr(history, "fill", broken)
    assert _bars(web, name) == []
    monkeypatch.undo()
    assert len(_bars(web, name)) > 1000


def test_a_running_sim_s_history_starts_at_the_listing():
    from dataclasses import replace

    from backend.sim.exchange import SimExchange
    from backend.sim.history import exchange_history
    from backend.sim.registry import SimSettings

    saturday = datetime(2026, 12, 5, 17, 0, tzinfo=SHANGHAI)
    exchange = SimExchange(SimSettings(name="history-unit", clock=lambda: saturday))
    try:
        symbol = sorted(exchange.specs)[0]
        whole = exchange_history(exchange, symbol, saturday)
        assert whole[-1].close == exchange.market.quotes[symbol].reference_price()
        exchange.specs[symbol] = replace(exchange.specs[symbol], open_date="20261201")
        recent = exchange_history(exchange, symbol, saturday)
        assert {bar.trading_day for bar in recent} == {bar.trading_day for bar in whole
                                                        if bar.trading_day >= datetime(2026, 12, 1).date()}  # fmt: skip
        assert recent == whole[-len(recent):]
    finally:
        exchange.close()


@pytest.mark.parametrize("clock", [datetime(2026, 12, 5, 19, 24, tzinfo=SHANGHAI),  # Saturday evening
                                   datetime(2026, 12, 3, 21, 30, tzinfo=SHANGHAI)])  # a Thursday night; fmt: skip
def test_the_history_ends_where_the_ticks_bars_begin(web_factory, clock: datetime):
    """The sim's ticks are dated by CTP's rule (a Saturday evening is Friday evening of Monday's trading
    day): the history ends before the moment the ticks carry, never after it (issue 17, item 4)."""
    from backend.sim.exchange import SimExchange
    from backend.sim.registry import SimSettings
    from lib.trading_calendar import calendar_date

    web = web_factory()
    exchange = SimExchange(SimSettings(name=f"history-dates-{clock.day}", clock=lambda: clock))
    try:
        symbol = next(name for name in sorted(exchange.specs) if name.startswith("rb"))
        assert web.desk.history.fill(exchange, f"{symbol}.SHFE") > 0
        minutes = web.desk.store.load_bars(f"{symbol}.SHFE", Interval.MINUTE, None, None, 20_000)
        ticks_day = calendar_date(trading_day_for(clock), clock.time().replace(tzinfo=None))
        tick_moment = datetime.combine(ticks_day, clock.time().replace(tzinfo=None), tzinfo=SHANGHAI)
        assert _moment(minutes[-1]) + timedelta(minutes=1) <= tick_moment
        assert tick_moment - _moment(minutes[-1]) < timedelta(days=1)  # and not long before it
    finally:
        exchange.close()
