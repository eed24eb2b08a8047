"""Tick recording: the packed chunks give every field back exactly, batching per minute, the switch kept."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.engine import tick_codec
from backend.engine.constants import Exchange, Product
from backend.engine.objects import SHANGHAI, ContractData, TickData
from backend.engine.tick_recorder import CHUNK_SECONDS, CHUNK_TICKS, TickRecorder, recorded_summary
from backend.gateway.ticks import TickCleaner
from backend.lab.ticks import NoTicks, Ticks, load_ticks
from backend.sim.instruments import builtin_instruments
from backend.sim.market import MarketSim
from backend.sim.rows import depth_struct
from model.sqlite_store import SqliteStore
from model.store import Store
from tests.conftest import Opener

DAY = date(2026, 1, 6)
START = datetime(2026, 1, 6, 9, 0, tzinfo=SHANGHAI)


def sim_ticks(count: int, product: str = "rb", seed: int = 7, every_ms: int = 500) -> list[TickData]:
    """Ticks as the desk receives them from the sim: its random walk, through the gateway's own cleaner."""
    spec = next(s for s in builtin_instruments(DAY) if s.symbol.rstrip("0123456789") == product)
    market = MarketSim([spec], seed)
    contract = ContractData(spec.symbol, Exchange(spec.exchange), spec.name, Product.FUTURES, spec.size,
                            spec.price_tick)  # fmt: skip
    cleaner = TickCleaner(contracts={spec.symbol: contract}, trading_day=DAY)
    ticks = []
    for index in range(count):
        moment = START + timedelta(milliseconds=every_ms * index)
        tick = cleaner.clean(depth_struct(market.step(spec.symbol, moment), moment, DAY.strftime("%Y%m%d"), True))
        assert tick is not None
        ticks.append(tick)
    return ticks


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "store.sqlite3")
    yield opened
    opened.close()


@pytest.fixture
def any_store(open_backend: Opener) -> Store:
    """Each backend (tests/conftest.py): SQLite always, MongoDB against MONGO_URI's server."""
    return open_backend()


@pytest.fixture
def recorder(store: SqliteStore) -> Iterator[TickRecorder]:
    made = TickRecorder(store)
    yield made
    made.close()


# --- the codec --------------------------------------------------------------------------------------------
def test_a_chunk_gives_every_field_of_every_tick_back_exactly():
    ticks = sim_ticks(240)
    back = list(Ticks.from_chunks(ticks[0].local_symbol, [tick_codec.encode(ticks)]))
    assert back == ticks  # every field (TickData compares them all), the name and the dates too
    assert [tick.to_dict() for tick in back] == [tick.to_dict() for tick in ticks]


prices = st.floats(min_value=0, max_value=1e7, allow_nan=False, allow_infinity=False)
volumes = st.integers(min_value=0, max_value=2**40)


@st.composite
def tick_sequences(draw: st.DrawFn) -> list[TickData]:
    count = draw(st.integers(min_value=1, max_value=20))
    moment = START + timedelta(milliseconds=draw(st.integers(min_value=0, max_value=10**9)))
    ticks = []
    for _ in range(count):
        moment += timedelta(milliseconds=draw(st.integers(min_value=0, max_value=5000)))
        numbers = {name: draw(prices) for name in tick_codec.FLOAT_COLUMNS}
        counts = {name: draw(volumes) for name in tick_codec.INT_COLUMNS if name not in ("datetime", "trading_day")}
        ticks.append(TickData("ag2606", Exchange.SHFE, moment, DAY, "白银2606", **numbers, **counts))
    return ticks


@settings(max_examples=150, deadline=None)
@given(tick_sequences())
def test_any_ticks_come_back_bit_for_bit(ticks: list[TickData]):
    """Arbitrary doubles (not only prices on a grid: average_price, turnover) and large counts round-trip."""
    back = list(Ticks.from_chunks("ag2606.SHFE", [tick_codec.encode(ticks)]))
    assert [tick.to_dict() for tick in back] == [tick.to_dict() for tick in ticks]


def test_a_damaged_chunk_is_refused_clearly():
    blob = tick_codec.encode(sim_ticks(3))
    with pytest.raises(tick_codec.CodecError):
        tick_codec.decode(blob[:-5])
    with pytest.raises(tick_codec.CodecError):
        tick_codec.decode(b"not a chunk")


def test_recorded_ticks_are_compact():
    """One minute of a busy instrument (2 ticks a second, the sim's walk): a few dozen bytes a tick, where the
    tick's JSON is about 900."""
    ticks = sim_ticks(120)
    packed = len(tick_codec.encode(ticks)) / len(ticks)
    as_json = len(json.dumps([tick.to_dict() for tick in ticks])) / len(ticks)
    print(f"\nbytes per tick: packed {packed:.1f}, JSON {as_json:.0f}")
    assert packed < 40 and packed * 20 < as_json


# --- the store (each backend) -------------------------------------------------------------------------------
def test_chunks_come_back_in_saved_order_by_range_with_a_summary(any_store: Store):
    ticks = sim_ticks(30)
    name = ticks[0].local_symbol
    first, second, third = ticks[:10], ticks[10:20], ticks[20:]
    for chunk in (first, second, third):
        first_ms, last_ms = tick_codec.epoch_ms(chunk[0].datetime), tick_codec.epoch_ms(chunk[-1].datetime)
        any_store.save_tick_chunk(name, first_ms, last_ms, len(chunk), tick_codec.encode(chunk))
    any_store.save_tick_chunk("ag2606.SHFE", 5, 9, 1, b"x")
    everything = any_store.load_tick_chunks(name, None, None)
    assert list(Ticks.from_chunks(name, everything)) == ticks
    middle = any_store.load_tick_chunks(name, tick_codec.epoch_ms(ticks[12].datetime),
                                        tick_codec.epoch_ms(ticks[15].datetime))  # fmt: skip
    assert [len(tick_codec.decode(blob)) for blob in middle] == [10]
    summary = any_store.tick_summary()
    assert [(row["local_symbol"], row["count"], row["first_ms"], row["last_ms"]) for row in summary] == [
        ("ag2606.SHFE", 1, 5, 9),
        (name, 30, tick_codec.epoch_ms(ticks[0].datetime), tick_codec.epoch_ms(ticks[-1].datetime))]
    assert summary[1]["bytes"] == sum(len(blob) for blob in everything)
    with pytest.raises(ValueError):
        any_store.save_tick_chunk(name, 10, 5, 1, b"x")  # last before first
    with pytest.raises(TypeError):
        any_store.save_tick_chunk(name, 1, 5, 1, "not bytes")  # type: ignore[arg-type]
    assert len(any_store.load_tick_chunks(name, None, None)) == 3  # nothing written by the refusals


def test_the_recording_switch_is_stored(any_store: Store):
    any_store.set_recording("rb2605.SHFE", True)
    any_store.set_recording("rb2605.SHFE", True)
    any_store.set_recording("ag2606.SHFE", True)
    any_store.set_recording("zz9999.SHFE", False)
    assert any_store.load_recording() == ["ag2606.SHFE", "rb2605.SHFE"]
    any_store.set_recording("ag2606.SHFE", False)
    assert any_store.load_recording() == ["rb2605.SHFE"]
    with pytest.raises(ValueError):
        any_store.set_recording("", True)


# --- batching ------------------------------------------------------------------------------------------------
def test_ticks_are_written_per_minute_and_all_on_a_clean_stop(store: SqliteStore):
    recorder = TickRecorder(store)
    ticks = sim_ticks(300)  # 150 s: minutes 09:00, 09:01 and half of 09:02
    recorder.switch(ticks[0].local_symbol, True)
    for tick in ticks[:130]:  # into 09:01: the 09:00 chunk is closed by the first tick of 09:01
        recorder.add(tick)
    recorder.writer.flush()
    assert [row["count"] for row in store.tick_summary()] == [120]
    for tick in ticks[130:]:
        recorder.add(tick)
    assert recorder.close()  # a clean stop writes the open chunk
    assert store.tick_summary()[0]["count"] == 300
    assert list(load_ticks(store, ticks[0].local_symbol)) == ticks
    assert len(store.load_tick_chunks(ticks[0].local_symbol, None, None)) == 3


def test_a_range_reads_only_the_ticks_stamped_in_it(store: SqliteStore, recorder: TickRecorder):
    ticks = sim_ticks(300)
    recorder.switch(ticks[0].local_symbol, True)
    for tick in ticks:
        recorder.add(tick)
    recorder.flush()
    start, end = tick_codec.epoch_ms(ticks[100].datetime), tick_codec.epoch_ms(ticks[200].datetime)
    assert list(load_ticks(store, ticks[0].local_symbol, start, end)) == ticks[100:200]
    with pytest.raises(NoTicks):
        load_ticks(store, ticks[0].local_symbol, end + 10**8, None)
    with pytest.raises(NoTicks):
        load_ticks(store, "zz9999.SHFE")


def test_only_switched_on_instruments_are_recorded_and_a_switch_off_writes_what_is_open(
    store: SqliteStore, recorder: TickRecorder
):
    rb, ag = sim_ticks(10, "rb"), sim_ticks(10, "ag")
    recorder.switch(rb[0].local_symbol, True)
    for one, other in zip(rb, ag, strict=True):
        recorder.add(one)
        recorder.add(other)
    assert recorder.switch(rb[0].local_symbol, False)
    assert not recorder.switch(rb[0].local_symbol, False)  # already off: nothing changes
    recorder.add(replace(rb[-1], volume=rb[-1].volume + 1))  # off: not recorded
    recorder.writer.flush()
    assert [(row["local_symbol"], row["count"]) for row in store.tick_summary()] == [(rb[0].local_symbol, 10)]


def test_a_quiet_instruments_chunk_is_written_after_chunk_seconds(store: SqliteStore, recorder: TickRecorder):
    """What a crash can lose is bounded: a chunk open CHUNK_SECONDS is written though its minute goes on."""
    ticks = sim_ticks(3)
    recorder.switch(ticks[0].local_symbol, True)
    for tick in ticks:
        recorder.add(tick)
    opened = recorder._opened[ticks[0].local_symbol]
    recorder.close_due(opened + CHUNK_SECONDS - 1)
    recorder.writer.flush()
    assert store.tick_summary() == []
    recorder.close_due(opened + CHUNK_SECONDS)
    recorder.writer.flush()
    assert store.tick_summary()[0]["count"] == 3


def test_a_burst_is_cut_into_chunks_of_bounded_size(store: SqliteStore, recorder: TickRecorder):
    ticks = sim_ticks(CHUNK_TICKS + 5, every_ms=1)  # all within one minute
    recorder.switch(ticks[0].local_symbol, True)
    for tick in ticks:
        recorder.add(tick)
    recorder.flush()
    assert len(store.load_tick_chunks(ticks[0].local_symbol, None, None)) == 2
    assert list(load_ticks(store, ticks[0].local_symbol)) == ticks


# --- the switch ------------------------------------------------------------------------------------------------
def test_the_switch_survives_a_restart(tmp_path: Path):
    store = SqliteStore(tmp_path / "store.sqlite3")
    recorder = TickRecorder(store)
    recorder.switch("rb2605.SHFE", True)
    recorder.switch("ag2606.SHFE", True)
    recorder.switch("ag2606.SHFE", False)
    recorder.close()
    store.close()
    reopened = SqliteStore(tmp_path / "store.sqlite3")
    try:
        assert reopened.load_recording() == ["rb2605.SHFE"]
        again = TickRecorder(reopened)
        assert again.recorded == {"rb2605.SHFE"}
        again.close()
    finally:
        reopened.close()


def test_the_listing_shows_switched_on_and_recorded_instruments():
    summary = [{"local_symbol": "ag2606.SHFE", "count": 5, "first_ms": 1, "last_ms": 9, "bytes": 70}]
    assert recorded_summary({"rb2605.SHFE"}, summary) == [
        {"local_symbol": "ag2606.SHFE", "count": 5, "first_ms": 1, "last_ms": 9, "bytes": 70, "on": False},
        {"local_symbol": "rb2605.SHFE", "count": 0, "first_ms": None, "last_ms": None, "bytes": 0, "on": True},
    ]


# --- the lab's columns ------------------------------------------------------------------------------------------
def test_ticks_go_to_a_file_and_back(tmp_path: Path):
    ticks = Ticks.from_ticks(sim_ticks(50))
    ticks.to_file(tmp_path / "ticks.bin")
    back = Ticks.from_file(tmp_path / "ticks.bin")
    assert back == ticks and list(back) == list(ticks)
    cut = back.slice(int(back.datetime_ms[10]), int(back.datetime_ms[20]))
    assert list(cut) == list(ticks)[10:20]
    assert cut.record(0) == list(ticks)[10].to_dict()
