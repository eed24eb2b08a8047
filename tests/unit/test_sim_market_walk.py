"""The lazy walk of instruments nobody watches (MarketSim.catch_up) and the journaled day's figures.

Properties over any gaps and rates: the walk stays on the price grid and in the band, the day's
open/high/low bracket the prices, volume grows by at least a lot per snapshot, the time already
walked is never walked twice nor lost, and the figures survive a JSON round trip unchanged.
"""

from __future__ import annotations

import json
from datetime import date, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from backend.sim.instruments import builtin_instruments
from backend.sim.market import DBL_MAX, MarketSim, Quote

DAY = date(2025, 11, 4)
NOW = datetime(2025, 11, 4, 10, 0)
SPECS = {spec.product: spec for spec in sorted(builtin_instruments(DAY), key=lambda s: s.expire_date, reverse=True)}
PRODUCTS = sorted(p for p, spec in SPECS.items() if not spec.is_option)


def market(product: str, seed: int) -> tuple[MarketSim, str]:
    spec = SPECS[product]
    sim = MarketSim([spec], seed)
    sim.start_walk(1000.0)
    return sim, spec.symbol


def assert_sane(quote: Quote) -> None:
    """A quote the walk left: prices on the tick grid, inside the band, the day's range around them."""
    tick = quote.spec.price_tick
    for price in (quote.last_price, quote.open_price, quote.high_price, quote.low_price):
        assert quote.lower_limit - 1e-9 <= price <= quote.upper_limit + 1e-9
        assert abs(price / tick - round(price / tick)) < 1e-6
    assert quote.low_price <= min(quote.open_price, quote.last_price)
    assert quote.high_price >= max(quote.open_price, quote.last_price)
    assert quote.open_interest >= 0 and quote.turnover > 0
    bid, ask = quote.bid_prices[0], quote.ask_prices[0]
    assert bid == DBL_MAX or ask == DBL_MAX or bid < ask
    for prices, volumes in ((quote.bid_prices, quote.bid_volumes), (quote.ask_prices, quote.ask_volumes)):
        assert all((volume == 0) == (price == DBL_MAX) for price, volume in zip(prices, volumes, strict=True))


@settings(max_examples=60, deadline=None)
@given(
    product=st.sampled_from(PRODUCTS),
    seed=st.integers(0, 2**31),
    rate=st.sampled_from([0.01, 0.5, 2.0, 50.0]),
    gaps=st.lists(st.floats(0.0, 36_000.0, allow_nan=False), min_size=1, max_size=6),
)
def test_catch_up_keeps_the_walk_sane_and_counts_time_once(product: str, seed: int, rate: float,
                                                           gaps: list[float]) -> None:  # fmt: skip
    sim, symbol = market(product, seed)
    quote = sim.quotes[symbol]
    mono = 1000.0
    volume = 0
    for gap in gaps:
        mono += gap
        due = int((mono - quote.walked_at) * rate)
        sim.catch_up(symbol, rate, mono, NOW)
        assert quote.volume >= volume + max(due, 1 if volume == 0 else 0)  # each snapshot trades a lot or more
        volume = quote.volume
        assert_sane(quote)
        assert 0.0 <= mono - quote.walked_at < 1.0 / rate + 1e-6  # no time walked twice, none lost
        before = {name: getattr(quote, name) for name in ("last_price", "volume", "turnover", "bid_prices")}
        sim.catch_up(symbol, rate, mono, NOW)  # a second look at the same moment changes nothing
        assert before == {name: getattr(quote, name) for name in before}


@settings(max_examples=30, deadline=None)
@given(product=st.sampled_from(PRODUCTS), seed=st.integers(0, 2**31), gap=st.floats(0.0, 3600.0))
def test_journaled_figures_come_back_unchanged(product: str, seed: int, gap: float) -> None:
    sim, symbol = market(product, seed)
    sim.catch_up(symbol, 2.0, 1000.0 + gap, NOW)
    entry = json.loads(json.dumps(sim.intraday_of([symbol, "no-such-instrument"])))
    fresh, _ = market(product, seed + 1)
    fresh.restore_intraday(entry)
    names = ("last_price", "open_price", "high_price", "low_price", "volume", "turnover", "open_interest",
             "bid_prices", "ask_prices", "steps")  # fmt: skip
    assert {n: getattr(fresh.quotes[symbol], n) for n in names} == {n: getattr(sim.quotes[symbol], n) for n in names}


def test_an_untraded_instrument_journals_nothing() -> None:
    sim, symbol = market(PRODUCTS[0], 1)
    assert sim.intraday_of([symbol]) == {}


def test_a_long_gap_walks_like_the_steps_on_average() -> None:
    """The jump over a long gap has the stepped walk's volume per snapshot on average (within 5%)."""
    stepped, symbol = market("rb", 7)
    for _ in range(20_000):
        stepped.step(symbol, NOW)
    jumped, _ = market("rb", 7)
    jumped.catch_up(symbol, 1.0, 1000.0 + 20_000, NOW)
    ratio = jumped.quotes[symbol].volume / stepped.quotes[symbol].volume
    assert 0.95 < ratio < 1.05


def test_the_roll_keeps_the_ended_day_and_a_restart_takes_it_back() -> None:
    sim, symbol = market("jd", 11)
    ended = sim.catch_up(symbol, 10.0, 1060.0, NOW)
    sim.roll_day(sim.settlement_prices())
    assert sim.closed[symbol] is ended and not sim.quotes[symbol].traded
    state = json.loads(json.dumps(sim.to_state()))
    again = MarketSim([ended.spec], 11, state).closed[symbol]
    names = ("last_price", "open_price", "high_price", "low_price", "volume", "turnover", "open_interest",
             "pre_settlement", "pre_close", "bid_prices", "ask_volumes")  # fmt: skip
    assert {name: getattr(again, name) for name in names} == {name: getattr(ended, name) for name in names}
