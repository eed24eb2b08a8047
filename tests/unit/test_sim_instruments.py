"""The built-in instrument table: realistic values, exchange symbol formats, rolling months."""

from __future__ import annotations

import math
import re
from collections import Counter
from datetime import date, datetime, timedelta

import pytest

from backend.sim.instruments import (
    PRODUCTS,
    FeeRates,
    InstrumentSpec,
    builtin_instruments,
    full_market,
    instrument_index,
)
from lib.sessions import BOND_DAY, INDEX_DAY, sessions_for

TRADING_DAY = date(2025, 11, 24)
EXCHANGES = {"SHFE", "INE", "DCE", "CZCE", "CFFEX", "GFEX"}
FUTURE_FORMATS = {
    "SHFE": r"[a-z]{1,2}\d{4}",
    "INE": r"[a-z]{1,2}\d{4}",
    "DCE": r"[a-z]{1,2}\d{4}",
    "GFEX": r"[a-z]{1,2}\d{4}",
    "CZCE": r"[A-Z]{2}\d{3}",
    "CFFEX": r"[A-Z]{1,2}\d{4}",
}
OPTION_FORMATS = {
    "SHFE": r"[a-z]{1,2}\d{4}[CP]\d+",
    "INE": r"[a-z]{1,2}\d{4}[CP]\d+",
    "DCE": r"[a-z]{1,2}\d{4}-[CP]-\d+",
    "GFEX": r"[a-z]{1,2}\d{4}-[CP]-\d+",
    "CZCE": r"[A-Z]{2}\d{3}[CP]\d+",
    "CFFEX": r"(IO|HO|MO)\d{4}-[CP]-\d+",
}
REQUIRED = (
    "rb cu au ag al zn ni sn pb ru bu hc fu sp ss ao sc lu nr bc ec "
    "i m y p c cs a jm j l v pp eg eb pg jd lh "
    "MA SR CF TA OI RM FG SA AP UR PF SH PX IF IC IH IM T TF TS TL si lc"
).split()


@pytest.fixture(scope="module")
def builtin() -> list[InstrumentSpec]:
    return builtin_instruments(TRADING_DAY)


@pytest.fixture(scope="module")
def market() -> list[InstrumentSpec]:
    return full_market(TRADING_DAY)


def ymd(text: str) -> date:
    return datetime.strptime(text, "%Y%m%d").date()


def on_tick(price: float, tick: float) -> bool:
    return math.isclose(price / tick, round(price / tick), abs_tol=1e-6)


def by_product(specs: list[InstrumentSpec], product: str) -> list[InstrumentSpec]:
    return [s for s in specs if s.product == product]


# --- the product table -------------------------------------------------------------------------


def test_table_covers_the_six_exchanges_and_the_required_products() -> None:
    assert len(PRODUCTS) >= 40
    assert {row.exchange for row in PRODUCTS} == EXCHANGES
    assert len({row.product for row in PRODUCTS}) == len(PRODUCTS)
    assert set(REQUIRED) <= {row.product for row in PRODUCTS}


def test_every_product_and_its_options_have_sessions_in_the_shared_table(market: list[InstrumentSpec]) -> None:
    # The sim takes its hours from lib.sessions, the table the desk uses for real counters' ProductIDs.
    for row in PRODUCTS:
        assert row.sessions == sessions_for(row.product), row.product
        if row.option:
            assert sessions_for(row.option) == row.sessions, row.option
    for spec in market:
        assert spec.sessions == sessions_for(spec.product), spec.symbol


def test_table_values_are_sane() -> None:
    for row in PRODUCTS:
        assert row.size > 0 and row.tick > 0 and row.price > 0, row
        assert 0 < row.margin <= 0.25 and 0 < row.band <= 0.25, row
        assert row.months and set(row.months) <= set(range(1, 13)), row
        assert isinstance(row.fees, FeeRates)


@pytest.mark.parametrize(
    ("product", "size", "tick"),
    [
        ("rb", 10, 1), ("cu", 5, 10), ("au", 1000, 0.02), ("ag", 15, 1), ("sc", 1000, 0.1),
        ("i", 100, 0.5), ("m", 10, 1), ("MA", 10, 1), ("SR", 10, 1), ("IF", 300, 0.2),
        ("IC", 200, 0.2), ("IH", 300, 0.2), ("IM", 200, 0.2), ("T", 10000, 0.005), ("si", 5, 5),
        ("lc", 1, 20),
    ],
)  # fmt: skip
def test_known_multipliers_and_ticks(
    builtin: list[InstrumentSpec], product: str, size: int, tick: float
) -> None:
    for spec in by_product(builtin, product):
        assert (spec.size, spec.price_tick) == (size, tick)


@pytest.mark.parametrize(
    ("product", "night_end"),
    [("cu", "01:00"), ("al", "01:00"), ("ss", "01:00"), ("bc", "01:00"), ("au", "02:30"), ("ag", "02:30"),
     ("sc", "02:30"), ("rb", "23:00"), ("m", "23:00"), ("MA", "23:00"), ("jd", None), ("lh", None),
     ("AP", None), ("UR", None), ("si", None), ("lc", None), ("ec", None)],
)  # fmt: skip
def test_night_sessions(builtin: list[InstrumentSpec], product: str, night_end: str | None) -> None:
    sessions = by_product(builtin, product)[0].sessions
    nights = [end for start, end in sessions if start == "21:00"]
    assert nights == ([night_end] if night_end else [])
    assert ("09:00", "10:15") in sessions and ("13:30", "15:00") in sessions


def test_cffex_sessions_and_fees(builtin: list[InstrumentSpec]) -> None:
    for product in ("IF", "IC", "IH", "IM"):
        spec = by_product(builtin, product)[0]
        assert spec.sessions == INDEX_DAY
        assert spec.band == 0.10 and spec.long_margin_ratio == 0.12 and spec.max_limit_volume == 20
        assert spec.fees.close_today_by_money == pytest.approx(10 * spec.fees.open_by_money)
    for product in ("TS", "TF", "T", "TL"):
        assert by_product(builtin, product)[0].sessions == BOND_DAY
    assert by_product(builtin, "T")[0].band == 0.02


def test_fee_styles(builtin: list[InstrumentSpec]) -> None:
    au = by_product(builtin, "au")[0].fees
    assert au.open_by_volume == 10 and au.open_by_money == 0
    cu = by_product(builtin, "cu")[0].fees
    assert cu.open_by_money == 0.00005 and cu.close_today_by_money > cu.close_by_money
    assert by_product(builtin, "i")[0].fees.open_by_money > 0


# --- built-in contracts ------------------------------------------------------------------------


def check_contracts(specs: list[InstrumentSpec], trading_day: date) -> None:
    """Format, tick, date and uniqueness rules every generated instrument must follow."""
    assert len(instrument_index(specs)) == len(specs)
    for spec in specs:
        formats = OPTION_FORMATS if spec.is_option else FUTURE_FORMATS
        assert re.fullmatch(formats[spec.exchange], spec.symbol), spec.symbol
        assert spec.price_tick > 0 and on_tick(spec.base_price, spec.price_tick), spec.symbol
        assert spec.base_price > 0
        opened, expire = ymd(spec.open_date), ymd(spec.expire_date)
        assert ymd(spec.create_date) <= opened <= trading_day < expire, spec.symbol
        assert expire <= ymd(spec.start_deliv_date) <= ymd(spec.end_deliv_date), spec.symbol
        assert expire.weekday() < 5, spec.symbol


def check_future_symbol(spec: InstrumentSpec) -> None:
    digits = spec.symbol[len(spec.product) :]
    if spec.exchange == "CZCE":
        assert digits == f"{spec.delivery_year % 10}{spec.delivery_month:02d}"
    else:
        assert digits == f"{spec.delivery_year % 100:02d}{spec.delivery_month:02d}"
    assert spec.name.endswith(digits) and len(spec.name) > len(digits)


def test_builtin_contracts(builtin: list[InstrumentSpec]) -> None:
    check_contracts(builtin, TRADING_DAY)
    for spec in builtin:
        check_future_symbol(spec)
    counts = Counter(spec.product for spec in builtin)
    assert set(counts) == {row.product for row in PRODUCTS}
    assert set(counts.values()) <= {2, 3}


def test_builtin_examples(builtin: list[InstrumentSpec]) -> None:
    index = instrument_index(builtin)
    assert index["rb2601"].name == "螺纹钢2601"
    assert index["MA601"].exchange == "CZCE"
    assert index["IF2512"].expire_date == "20251219"  # third Friday
    assert {"si2601", "cu2512", "i2601", "T2603"} <= set(index)


def test_builtin_is_deterministic() -> None:
    assert builtin_instruments(TRADING_DAY) == builtin_instruments(TRADING_DAY)


def test_builtin_table_rolls_forward() -> None:
    late_2026, mid_2027 = date(2026, 12, 30), date(2027, 6, 1)
    first, second = builtin_instruments(late_2026), builtin_instruments(mid_2027)
    assert {s.symbol for s in first} != {s.symbol for s in second}
    check_contracts(first, late_2026)
    check_contracts(second, mid_2027)


@pytest.mark.parametrize("offset", range(0, 800, 13))
def test_builtin_never_expired_on_any_day(offset: int) -> None:
    day = date(2025, 1, 1) + timedelta(days=offset)
    specs = builtin_instruments(day)
    check_contracts(specs, day)
    assert set(Counter(spec.product for spec in specs).values()) <= {2, 3}


@pytest.mark.parametrize(
    ("day", "index_months"),
    [
        (date(2025, 11, 24), [(2025, 12), (2026, 1), (2026, 3), (2026, 6)]),
        (date(2026, 1, 5), [(2026, 1), (2026, 2), (2026, 3), (2026, 6)]),
        # IF2603's last trading day: the sim leaves expiring contracts out; IF2612 lists on Monday
        (date(2026, 3, 20), [(2026, 4), (2026, 6), (2026, 9)]),
        (date(2026, 3, 23), [(2026, 4), (2026, 5), (2026, 6), (2026, 9)]),
    ],
)
def test_cffex_listing_rules(day: date, index_months: list[tuple[int, int]]) -> None:
    futures = [s for s in full_market(day, min_count=0) if not s.is_option]
    index = sorted((s.delivery_year, s.delivery_month) for s in by_product(futures, "IF"))
    assert index == index_months
    for spec in by_product(futures, "IF"):  # the third Friday
        expire = ymd(spec.expire_date)
        assert expire.weekday() == 4 and 15 <= expire.day <= 21
    bonds = by_product(futures, "T")
    assert len(bonds) == 3 and all(s.delivery_month % 3 == 0 for s in bonds)


# --- full market -------------------------------------------------------------------------------


def test_full_market_size_and_validity(market: list[InstrumentSpec]) -> None:
    assert len(market) >= 5000
    check_contracts(market, TRADING_DAY)
    futures = [s for s in market if not s.is_option]
    for spec in futures:
        check_future_symbol(spec)
    assert len(futures) > len(builtin_instruments(TRADING_DAY))
    assert max(Counter(s.product for s in futures).values()) <= 12


def test_full_market_options(market: list[InstrumentSpec]) -> None:
    index = instrument_index(market)
    options = [s for s in market if s.is_option]
    assert options and {s.options_type for s in options} == {"1", "2"}
    for option in options:
        future = index[option.underlying]
        assert not future.is_option and future.exchange == option.exchange
        assert option.strike_price > 0 and option.symbol.endswith(str(int(option.strike_price)))
        assert ymd(option.expire_date) <= ymd(future.expire_date)
    assert {"cu2601C78000", "MA601C2500", "IO2512-C-3900", "m2601-C-2900"} <= set(index)
    assert index["IO2512-C-3900"].underlying == "IF2512"
    assert index["IO2512-C-3900"].product == "IO"


def test_full_market_is_deterministic_and_grows_to_min_count(market: list[InstrumentSpec]) -> None:
    assert full_market(TRADING_DAY) == market
    bigger = full_market(TRADING_DAY, min_count=20000)
    assert len(bigger) >= 20000
    assert len(instrument_index(bigger)) == len(bigger)


def test_instrument_index_refuses_duplicates(builtin: list[InstrumentSpec]) -> None:
    with pytest.raises(ValueError, match="duplicate"):
        instrument_index([builtin[0], builtin[1], builtin[0]])
