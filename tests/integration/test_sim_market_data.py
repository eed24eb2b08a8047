"""The sim's market-data API end to end: session, subscriptions, tick contents, dating quirks,
sessions mode, replay and set_price (CTP.md §1, §2 market data, §5).

A raw MD client (tests/ctpclient.MdClient) drives `backend.sim.mdapi` exactly as it would drive
`openctp_ctp.mdapi`; every wait is on a recorded callback with a timeout.
"""

from __future__ import annotations

import csv
import re
import statistics
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from backend.sim import control, ctp_spec, mdapi
from backend.sim.instruments import builtin_instruments
from backend.sim.market import DBL_MAX
from lib.native import monotonic
from tests.integration.md_sim import (
    FRI,
    MON,
    SAT,
    TUE,
    WED,
    MdSim,
    SimClock,
    at,
    nearest,
    on_tick,
    one_per_exchange,
    quiet_for,
)

DEPTH_FIELDS = ctp_spec.STRUCTS["CThostFtdcDepthMarketDataField"]
PY_TYPES = {"d": float, "i": int, "s": str}


@pytest.fixture
def md_sim(tmp_path: Path) -> Iterator[MdSim]:
    sims = MdSim(tmp_path)
    yield sims
    sims.close()


def index_of(calls: list[Any], call: Any) -> int:
    return next(i for i, each in enumerate(calls) if each is call)


# --- 1. the MD session ------------------------------------------------------------------------------
def test_login_gives_trading_day_and_credentials_are_ignored(md_sim: MdSim) -> None:
    name = md_sim.sim()
    client = md_sim.md(name)
    client.userid, client.password = "nobody", "wrong"
    login = client.login()
    assert login.error_id == 0
    assert login.data["TradingDay"] == WED
    assert client.api.GetTradingDay() == WED


def test_subscribe_before_login_returns_minus_one(md_sim: MdSim) -> None:
    name = md_sim.sim()
    client = md_sim.md(name)
    symbol = nearest(name, "i").symbol
    client.recorder.wait_for("OnFrontConnected")
    assert client.subscribe([symbol]) == -1
    assert client.unsubscribe([symbol]) == -1
    assert client.login().error_id == 0
    assert client.subscribe([symbol]) == 0


def test_subscribe_argument_types_like_the_binding(md_sim: MdSim) -> None:
    name = md_sim.sim()
    client = md_sim.logged_in_md(name)
    symbol = nearest(name, "i").symbol
    for method in (client.api.SubscribeMarketData, client.api.UnSubscribeMarketData):
        with pytest.raises(TypeError):
            method((symbol.encode(),), 1)
        with pytest.raises(TypeError):
            method([symbol], 1)
        with pytest.raises(TypeError):
            method([symbol.encode()], 1.0)
    assert client.ticks() == []
    assert client.recorder.named("OnRspSubMarketData") == []


def test_one_answer_per_instrument_and_count_limits_the_list(md_sim: MdSim) -> None:
    name = md_sim.sim(tick_rate=10)
    client = md_sim.logged_in_md(name)
    symbols = [spec.symbol for spec in one_per_exchange(name).values()]
    mark = client.recorder.mark()
    assert client.subscribe(symbols, 3) == 0
    client.recorder.wait_for("OnRspSubMarketData", lambda c: c.args[-1] is True, start=mark)
    answers = client.recorder.calls[mark:]
    answers = [c for c in answers if c.name == "OnRspSubMarketData"]
    assert [c.data["InstrumentID"] for c in answers] == symbols[:3]
    assert [c.args[-1] for c in answers] == [False, False, True]
    assert all(c.error_id == 0 for c in answers)
    for symbol in symbols[:3]:
        client.wait_tick(symbol, since=mark)
    ticked = {tick["InstrumentID"] for tick in client.ticks(since=mark)}
    assert ticked <= set(symbols[:3])


def test_unsubscribe_stops_ticks(md_sim: MdSim) -> None:
    name = md_sim.sim(tick_rate=10)
    client, other = md_sim.logged_in_md(name), md_sim.logged_in_md(name)
    kept, dropped = nearest(name, "i").symbol, nearest(name, "cu").symbol
    assert client.subscribe([kept, dropped]) == 0
    assert other.subscribe([dropped]) == 0
    client.wait_tick(kept)
    client.wait_tick(dropped)
    other.wait_tick(dropped)
    mark, other_mark = client.recorder.mark(), other.recorder.mark()
    assert client.unsubscribe([dropped]) == 0
    answer = client.recorder.wait_for("OnRspUnSubMarketData", start=mark)
    assert answer.data["InstrumentID"] == dropped and answer.args[-1] is True and answer.error_id == 0
    after = index_of(client.recorder.calls, answer)
    assert quiet_for(client, dropped, 0.6, after) == []
    # The other subscription still ticks, and so does another client's: waited for, as a stalled
    # machine may have stepped the market less often in those 0.6 s. Meanwhile the dropped one stays quiet.
    client.recorder.wait_until(lambda calls: len(client.ticks(kept, after)) >= 3, what="3 ticks of the kept one")
    other.recorder.wait_until(lambda calls: len(other.ticks(dropped, other_mark)) >= 3, what="3 ticks for the other")
    assert client.ticks(dropped, after) == []


def test_release_drops_only_that_clients_subscriptions(md_sim: MdSim) -> None:
    name = md_sim.sim(tick_rate=10)
    leaving, staying = md_sim.logged_in_md(name), md_sim.logged_in_md(name)
    symbol = nearest(name, "i").symbol
    for client in (leaving, staying):
        assert client.subscribe([symbol]) == 0
        client.wait_tick(symbol)
    leaving.close()
    mark, left = staying.recorder.mark(), leaving.recorder.mark()
    staying.recorder.wait_until(lambda calls: len(staying.ticks(symbol, mark)) >= 3, what="3 more ticks")
    assert leaving.recorder.mark() == left  # no callback after Release
    assert len(control(name).subscribers[symbol]) == 1


# --- 2. tick contents -------------------------------------------------------------------------------
def check_tick(tick: dict[str, Any], exchange: str, tick_size: float, size: int) -> None:
    """One DepthMarketData snapshot is complete and self-consistent (CTP.md §5)."""
    for field, _, kind, _ in DEPTH_FIELDS:
        if field.startswith("reserve"):  # deprecated placeholders; the recorder copies named fields only
            continue
        assert type(tick[field]) is PY_TYPES[kind], (field, tick[field])
    assert re.fullmatch(r"\d{8}", tick["TradingDay"]) and re.fullmatch(r"\d{8}", tick["ActionDay"])
    assert re.fullmatch(r"\d\d:\d\d:\d\d", tick["UpdateTime"])
    assert 0 <= tick["UpdateMillisec"] <= 999
    if exchange == "CZCE":
        assert tick["UpdateMillisec"] == 0
    lower, upper = tick["LowerLimitPrice"], tick["UpperLimitPrice"]
    assert 0 < lower < upper and on_tick(lower, tick_size) and on_tick(upper, tick_size)
    assert lower <= tick["PreSettlementPrice"] <= upper
    last = tick["LastPrice"]
    assert on_tick(last, tick_size) and lower <= last <= upper
    assert tick["LowestPrice"] <= last <= tick["HighestPrice"]
    assert lower <= tick["LowestPrice"] and tick["HighestPrice"] <= upper
    assert lower <= tick["OpenPrice"] <= upper
    assert tick["ClosePrice"] == DBL_MAX and tick["SettlementPrice"] == DBL_MAX
    sides = {}
    for side in ("Bid", "Ask"):
        prices = []
        for level in range(1, 6):
            price, volume = tick[f"{side}Price{level}"], tick[f"{side}Volume{level}"]
            if price == DBL_MAX:
                assert volume == 0, (side, level, volume)
                continue
            assert volume > 0 and on_tick(price, tick_size) and lower <= price <= upper, (side, level, price)
            prices.append(price)
        sides[side] = prices
    assert sides["Bid"] == sorted(sides["Bid"], reverse=True) and len(set(sides["Bid"])) == len(sides["Bid"])
    assert sides["Ask"] == sorted(sides["Ask"]) and len(set(sides["Ask"])) == len(sides["Ask"])
    if sides["Bid"] and sides["Ask"]:
        assert sides["Bid"][0] < sides["Ask"][0]
    volume, turnover = tick["Volume"], tick["Turnover"]
    assert volume > 0 and turnover > 0
    expected = turnover / volume / (size if exchange == "CZCE" else 1)
    assert tick["AveragePrice"] == pytest.approx(expected, rel=1e-9)
    assert lower * (1 if exchange == "CZCE" else size) <= tick["AveragePrice"]


def test_ticks_are_complete_and_consistent(md_sim: MdSim) -> None:
    name = md_sim.sim(tick_rate=10)
    client = md_sim.logged_in_md(name)
    specs = one_per_exchange(name)
    by_symbol = {spec.symbol: spec for spec in specs.values()}
    assert client.subscribe(list(by_symbol)) == 0
    client.recorder.wait_until(
        lambda calls: all(len(client.ticks(symbol)) >= 10 for symbol in by_symbol), what="10 ticks of each"
    )
    ticks = client.ticks()
    for symbol, spec in by_symbol.items():
        mine = [tick for tick in ticks if tick["InstrumentID"] == symbol]
        for tick in mine:
            check_tick(tick, spec.exchange, spec.price_tick, spec.size)
            assert tick["ExchangeID"] == ""  # many real fronts leave it empty (CTP.md §5)
            assert tick["UpdateTime"].startswith("10:00:")
        for before, after in zip(mine, mine[1:], strict=False):
            assert after["Volume"] >= before["Volume"]
            assert after["Turnover"] >= before["Turnover"]
            assert after["HighestPrice"] >= before["HighestPrice"]
            assert after["LowestPrice"] <= before["LowestPrice"]
    # Sub-second stamps exist except on CZCE.
    assert any(tick["UpdateMillisec"] for tick in ticks if tick["InstrumentID"] != specs["CZCE"].symbol)


def test_tick_exchange_id_setting_fills_exchange_id(md_sim: MdSim) -> None:
    name = md_sim.sim(tick_rate=10, tick_exchange_id=True)
    client = md_sim.logged_in_md(name)
    specs = one_per_exchange(name)
    assert client.subscribe([spec.symbol for spec in specs.values()]) == 0
    for exchange, spec in specs.items():
        assert client.wait_tick(spec.symbol)["ExchangeID"] == exchange


def test_default_rate_is_about_two_ticks_a_second(md_sim: MdSim) -> None:
    name = md_sim.sim()  # tick_rate default 2
    client = md_sim.logged_in_md(name)
    symbols = [spec.symbol for spec in one_per_exchange(name).values()]
    assert client.subscribe(symbols) == 0
    for symbol in symbols:
        client.wait_tick(symbol)
    # Arrival times taken on the callback thread, over the first 7 ticks of each (3 s at 2 a second):
    # a stall of the test's thread does not count, one of the whole machine (the clock skips what it
    # missed) still leaves 6 intervals in under 6 s.
    arrived: dict[str, list[float]] = {symbol: [] for symbol in symbols}
    enough = threading.Event()

    def stamp(tick: Any) -> None:
        times = arrived.get(tick.InstrumentID)
        if times is not None:
            times.append(monotonic())
        if all(len(times) >= 7 for times in arrived.values()):
            enough.set()

    client.spi.hooks["OnRtnDepthMarketData"] = stamp
    enough.wait(10.0)
    for symbol, times in arrived.items():
        first = times[:7]
        assert len(first) >= 2, (symbol, first)
        rate = (len(first) - 1) / (first[-1] - first[0])
        assert 1.0 <= rate <= 4.0, (symbol, rate)


def test_md_callbacks_carry_mdapi_structs(md_sim: MdSim) -> None:
    name = md_sim.sim(tick_rate=10)
    client = md_sim.logged_in_md(name)
    symbol = nearest(name, "i").symbol
    assert client.subscribe([symbol]) == 0
    tick = client.recorder.wait_for("OnRtnDepthMarketData")
    answer = client.recorder.wait_for("OnRspSubMarketData")
    login = client.recorder.wait_for("OnRspUserLogin")
    assert isinstance(tick.args[0], mdapi.CThostFtdcDepthMarketDataField)
    assert isinstance(answer.args[0], mdapi.CThostFtdcSpecificInstrumentField)
    assert isinstance(login.args[0], mdapi.CThostFtdcRspUserLoginField)


# --- 3. dating quirks (CTP.md §5) -------------------------------------------------------------------
def _night_and_next(md_sim: MdSim, night: str, trading_day: str, later: str, later_hhmm: str) -> None:
    clock = SimClock(at(night, "21:30"))
    name = md_sim.sim(clock=clock, tick_rate=10)
    client = md_sim.logged_in_md(name)
    assert client.api.GetTradingDay() == trading_day
    specs = {exchange: nearest(name, product) for exchange, product in [("DCE", "i"), ("SHFE", "cu"), ("CZCE", "MA")]}
    assert client.subscribe([spec.symbol for spec in specs.values()]) == 0
    ticks = {ex: client.wait_tick(spec.symbol, lambda t: t["UpdateTime"].startswith("21:30"))
             for ex, spec in specs.items()}  # fmt: skip
    # DCE: ActionDay carries the trading day at night (the quirk a client must undo).
    assert (ticks["DCE"]["TradingDay"], ticks["DCE"]["ActionDay"]) == (trading_day, trading_day)
    # SHFE: ActionDay is the calendar day.
    assert (ticks["SHFE"]["TradingDay"], ticks["SHFE"]["ActionDay"]) == (trading_day, night)
    # CZCE: TradingDay is the calendar day.
    assert (ticks["CZCE"]["TradingDay"], ticks["CZCE"]["ActionDay"]) == (night, night)

    mark = client.recorder.mark()
    clock.set(at(later, later_hhmm))
    hhmm = later_hhmm + ":"
    later_ticks = {ex: client.wait_tick(spec.symbol, lambda t: t["UpdateTime"].startswith(hhmm), since=mark)
                   for ex, spec in specs.items()}  # fmt: skip
    if later == trading_day:  # day session: every exchange carries the trading day
        for tick in later_ticks.values():
            assert (tick["TradingDay"], tick["ActionDay"]) == (trading_day, trading_day)
    else:  # after midnight, still the night of `night`
        assert (later_ticks["DCE"]["TradingDay"], later_ticks["DCE"]["ActionDay"]) == (trading_day, trading_day)
        assert (later_ticks["SHFE"]["TradingDay"], later_ticks["SHFE"]["ActionDay"]) == (trading_day, later)
        assert (later_ticks["CZCE"]["TradingDay"], later_ticks["CZCE"]["ActionDay"]) == (later, later)
    assert client.api.GetTradingDay() == trading_day  # no day roll happened


def test_dating_tuesday_night_then_wednesday_day(md_sim: MdSim) -> None:
    _night_and_next(md_sim, TUE, WED, WED, "10:00")


def test_dating_friday_night_belongs_to_monday(md_sim: MdSim) -> None:
    _night_and_next(md_sim, FRI, MON, SAT, "00:30")


# --- 4. sessions mode -------------------------------------------------------------------------------
def test_sessions_mode_quiet_outside_hours_and_last_snapshot_on_subscribe(md_sim: MdSim) -> None:
    clock = SimClock(at(SAT, "12:00"))
    name = md_sim.sim(clock=clock, mode="sessions", tick_rate=10)
    client = md_sim.logged_in_md(name)
    assert client.api.GetTradingDay() == MON
    dce, shfe, czce = nearest(name, "i"), nearest(name, "cu"), nearest(name, "MA")
    dce_price = dce.base_price + 3 * dce.price_tick
    shfe_price = shfe.base_price - 2 * shfe.price_tick
    control(name).set_price(dce.symbol, dce_price)
    control(name).set_price(shfe.symbol, shfe_price)
    mark = client.recorder.mark()
    assert client.subscribe([dce.symbol, shfe.symbol, czce.symbol]) == 0
    client.recorder.wait_for("OnRspSubMarketData", lambda c: c.args[-1] is True, start=mark)
    snapshots = {tick["InstrumentID"]: tick for tick in client.ticks(since=mark)}
    # The prices set while closed: the last snapshot, stamped at the end of the previous session
    # (Friday 23:00 for DCE i, Saturday 01:00 for SHFE cu). CZCE MA, never looked at: walked through
    # its last session (Friday 21:00-23:00), its last snapshot stamped inside it.
    assert set(snapshots) == {dce.symbol, shfe.symbol, czce.symbol}
    dce_tick, shfe_tick, czce_tick = snapshots[dce.symbol], snapshots[shfe.symbol], snapshots[czce.symbol]
    assert czce_tick["LastPrice"] != DBL_MAX and czce_tick["Volume"] > 0 and czce_tick["AskVolume1"] > 0
    assert "21:00:00" <= czce_tick["UpdateTime"] < "23:00:00"
    assert (czce_tick["TradingDay"], czce_tick["ActionDay"]) == (FRI, FRI)  # CZCE: the calendar day
    assert dce_tick["LastPrice"] == dce_price and shfe_tick["LastPrice"] == shfe_price
    assert (dce_tick["UpdateTime"], dce_tick["UpdateMillisec"]) == ("23:00:00", 0)
    assert (dce_tick["TradingDay"], dce_tick["ActionDay"]) == (MON, MON)  # DCE: "stamped in the future"
    assert (shfe_tick["UpdateTime"], shfe_tick["TradingDay"], shfe_tick["ActionDay"]) == ("01:00:00", MON, SAT)
    # Outside every session nothing else flows.
    after = client.recorder.mark()
    assert quiet_for(client, dce.symbol, 0.6, after) == []
    assert client.ticks(since=after) == []
    # Inside a session ticks flow.
    mark = client.recorder.mark()
    clock.set(at(MON, "09:30"))
    for spec in (dce, shfe, czce):
        tick = client.wait_tick(spec.symbol, since=mark)
        assert tick["UpdateTime"].startswith("09:30:")
    assert client.api.GetTradingDay() == MON


def test_sessions_mode_follows_each_instruments_sessions(md_sim: MdSim) -> None:
    """Monday 10:20: the commodity morning break (10:15-10:30), while CFFEX index futures trade."""
    name = md_sim.sim(clock=SimClock(at(MON, "10:20")), mode="sessions", tick_rate=10)
    client = md_sim.logged_in_md(name)
    resting, trading = nearest(name, "i").symbol, nearest(name, "IF").symbol
    assert client.subscribe([resting, trading]) == 0
    mark = client.recorder.mark()
    client.recorder.wait_until(lambda calls: len(client.ticks(trading, mark)) >= 5, what="5 IF ticks")
    (snapshot,) = client.ticks(resting)  # the one pushed on subscribe: the 09:00-10:15 session's last
    assert "09:00:00" <= snapshot["UpdateTime"] < "10:15:00"


def test_sessions_mode_snapshot_in_session_carries_its_own_time(md_sim: MdSim) -> None:
    name = md_sim.sim(clock=SimClock(at(MON, "09:30")), mode="sessions", tick_rate=10)
    first, second = md_sim.logged_in_md(name), md_sim.logged_in_md(name)
    symbol = nearest(name, "i").symbol
    assert first.subscribe([symbol]) == 0
    first.recorder.wait_until(lambda calls: len(first.ticks(symbol)) >= 3, what="3 ticks")
    assert second.subscribe([symbol]) == 0
    snapshot = second.wait_tick(symbol)
    assert snapshot["UpdateTime"].startswith("09:30:"), snapshot["UpdateTime"]  # not "23:00:00" of Friday night


# --- 5. replay mode ---------------------------------------------------------------------------------
def _replay_rows(first: Any, second: Any, count: int) -> list[dict[str, Any]]:
    """`count` snapshots alternating between two instruments, half a second apart (recorded time)."""
    rows = []
    for index in range(count):
        spec = first if index % 2 == 0 else second
        last = spec.base_price + (index - count // 2) * spec.price_tick
        rows.append({
            "InstrumentID": spec.symbol, "UpdateTime": f"21:00:{index // 2:02d}",
            "UpdateMillisec": 500 * (index % 2), "LastPrice": last, "Volume": 10 * (index + 1),
            "Turnover": last * 10 * (index + 1) * spec.size,
            "BidPrice1": last - spec.price_tick, "BidVolume1": 5 + index, "AskPrice1": last + spec.price_tick,
            "AskVolume1": 7 + index,
        })  # fmt: skip
    return rows


def _replay_file(tmp_path: Path, count: int = 10) -> tuple[str, list[dict[str, Any]], list[str]]:
    specs = builtin_instruments(date(2025, 11, 26))  # trading day of the default test clock
    first, second = (min((s for s in specs if s.product == p), key=lambda s: s.expire_date) for p in ("i", "cu"))
    rows = _replay_rows(first, second, count)
    path = tmp_path / "ticks.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return str(path), rows, [first.symbol, second.symbol]


def _recorded(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(r["InstrumentID"], r["LastPrice"], r["BidPrice1"], r["AskPrice1"], r["AskVolume1"]) for r in rows]


def _delivered(ticks: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(t["InstrumentID"], t["LastPrice"], t["BidPrice1"], t["AskPrice1"], t["AskVolume1"]) for t in ticks]


def test_replay_as_fast_as_possible_in_file_order(md_sim: MdSim, tmp_path: Path) -> None:
    path, rows, symbols = _replay_file(tmp_path)
    name = md_sim.sim(mode="replay", replay_csv=path, replay_speed=0, replay_loop=False)
    client = md_sim.logged_in_md(name)
    mark = client.recorder.mark()
    assert client.subscribe(symbols) == 0
    client.recorder.wait_until(lambda calls: len(client.ticks(since=mark)) >= len(rows), what="every row")
    ticks = client.ticks(since=mark)
    assert _delivered(ticks) == _recorded(rows)
    assert [t["Volume"] for t in ticks] == [r["Volume"] for r in rows]
    specs = control(name).specs
    for tick in ticks:
        check_tick(tick, specs[tick["InstrumentID"]].exchange, specs[tick["InstrumentID"]].price_tick,
                   specs[tick["InstrumentID"]].size)  # fmt: skip
    assert quiet_for(client, symbols[0], 0.3, client.recorder.mark()) == []  # played once, no loop


def test_replay_keeps_the_recorded_pace_and_loops(md_sim: MdSim, tmp_path: Path) -> None:
    """Ten rows over 4.5 s of recorded time, played at 9x: a pass takes 0.5 s, then starts again.

    The pace is the median of five passes: a stall of the machine running the suite stretches (or, as the
    pass catches up, squeezes) the one it falls in, not the others."""
    path, rows, symbols = _replay_file(tmp_path)
    name = md_sim.sim(mode="replay", replay_csv=path, replay_speed=9.0, replay_loop=True)
    client = md_sim.logged_in_md(name)
    arrived = []
    client.spi.hooks["OnRtnDepthMarketData"] = lambda tick: arrived.append(monotonic())
    mark = client.recorder.mark()
    assert client.subscribe(symbols) == 0
    passes = 5
    client.recorder.wait_until(lambda calls: len(client.ticks(since=mark)) >= passes * len(rows), 20, "five passes")
    ticks = client.ticks(since=mark)[: passes * len(rows)]
    assert _delivered(ticks) == _recorded(rows) * passes
    spans = [arrived[(n + 1) * len(rows) - 1] - arrived[n * len(rows)] for n in range(passes)]
    assert 0.4 <= statistics.median(spans) <= 1.5, spans


# --- 6. set_price: the market and resting orders ----------------------------------------------------
def test_set_price_moves_the_book_and_fills_a_resting_order(md_sim: MdSim) -> None:
    name = md_sim.sim(tick_rate=0, query_rate=0)
    spec = nearest(name, "i")
    tick_size, symbol = spec.price_tick, spec.symbol
    client = md_sim.logged_in_md(name)
    assert client.subscribe([symbol]) == 0
    client.recorder.wait_for("OnRspSubMarketData")
    price = spec.base_price + 4 * tick_size
    mark = client.recorder.mark()
    control(name).set_price(symbol, price)
    tick = client.wait_tick(symbol, since=mark)
    check_tick(tick, "DCE", tick_size, spec.size)
    assert tick["LastPrice"] == price
    assert tick["BidPrice1"] in (price, price - tick_size)
    assert tick["AskPrice1"] == pytest.approx(tick["BidPrice1"] + tick_size)

    trader = md_sim.trader(name)
    limit = price - 5 * tick_size
    ref = trader.order(symbol, "DCE", "0", "0", limit, 2)
    resting = trader.wait_order(ref, lambda data: data["OrderStatus"] == "3")
    assert resting["OrderSysID"].strip()
    assert not trader.recorder.named("OnRtnTrade")

    crossed = price - 10 * tick_size
    mark = client.recorder.mark()
    control(name).set_price(symbol, crossed)
    assert client.wait_tick(symbol, since=mark)["LastPrice"] == crossed
    final = trader.wait_order(ref, lambda data: data["OrderStatus"] == "0")
    trader.recorder.wait_until(
        lambda calls: sum(c.data["Volume"] for c in calls if c.name == "OnRtnTrade") == 2, what="2 lots traded"
    )
    fills = [c.data for c in trader.recorder.named("OnRtnTrade")]
    assert all(fill["Price"] == limit and fill["OrderSysID"] == resting["OrderSysID"] for fill in fills)
    assert final["VolumeTraded"] == 2
