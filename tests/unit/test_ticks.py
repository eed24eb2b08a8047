"""Tick cleaning: every trap of CTP.md §5."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from backend.engine.constants import Exchange, Product
from backend.engine.objects import SHANGHAI, ContractData
from backend.gateway.ctp_gateway import session_filter_on
from backend.gateway.ticks import TickCleaner, calendar_date, parse_clock

DBL_MAX = 1.7976931348623157e308
MONDAY = date(2026, 11, 23)
TUESDAY = date(2026, 11, 24)


def contract(symbol: str, exchange: Exchange) -> ContractData:
    return ContractData(symbol, exchange, symbol, Product.FUTURES, 10, 1.0)


def depth(symbol: str, update_time: str, millis: int = 0, **values: object) -> dict[str, object]:
    row: dict[str, object] = {
        "InstrumentID": symbol, "UpdateTime": update_time, "UpdateMillisec": millis, "TradingDay": "20261124",
        "ActionDay": "20261124", "LastPrice": 3100.0, "Volume": 10, "BidPrice1": 3099.0, "AskPrice1": 3100.0,
        "BidVolume1": 5, "AskVolume1": 7,
    }  # fmt: skip
    row.update(values)
    return row


@pytest.fixture
def cleaner() -> TickCleaner:
    return TickCleaner(
        contracts={
            "rb2601": contract("rb2601", Exchange.SHFE),
            "m2601": contract("m2601", Exchange.DCE),
            "MA601": contract("MA601", Exchange.CZCE),
        },
        trading_day=TUESDAY,
    )


@pytest.mark.parametrize(
    ("trading_day", "clock", "expected"),
    [
        (TUESDAY, "21:30:00", date(2026, 11, 23)),  # night session: the evening before
        (TUESDAY, "00:30:00", date(2026, 11, 24)),  # after midnight: the next calendar day
        (TUESDAY, "09:00:00", TUESDAY),  # day session: the trading day itself
        (MONDAY, "21:00:00", date(2026, 11, 20)),  # Monday's night session is on Friday evening
        (MONDAY, "01:00:00", date(2026, 11, 21)),  # ... and after midnight it is Saturday
        (MONDAY, "14:59:59", MONDAY),
    ],
)
def test_calendar_date_comes_from_trading_day_and_clock(trading_day: date, clock: str, expected: date):
    assert calendar_date(trading_day, parse_clock(clock, 0)) == expected


def test_dce_night_tick_uses_the_clock_not_its_action_day(cleaner: TickCleaner):
    # DCE puts the trading day into ActionDay at night; the real calendar day is the evening before.
    tick = cleaner.clean(depth("m2601", "21:30:00", ActionDay="20261124", TradingDay="20261124"))
    assert tick is not None
    assert tick.datetime == datetime(2026, 11, 23, 21, 30, tzinfo=SHANGHAI)
    assert tick.trading_day == TUESDAY


def test_czce_calendar_trading_day_field_is_ignored(cleaner: TickCleaner):
    # CZCE's TradingDay field is the calendar day at night; the session's trading day wins.
    tick = cleaner.clean(depth("MA601", "22:00:00", TradingDay="20261123", ActionDay="20261123"))
    assert tick is not None and tick.trading_day == TUESDAY
    assert tick.datetime == datetime(2026, 11, 23, 22, 0, tzinfo=SHANGHAI)


@pytest.mark.parametrize(("millis", "microseconds"), [(5, 5_000), (50, 50_000), (500, 500_000), (0, 0)])
def test_milliseconds_are_milliseconds(cleaner: TickCleaner, millis: int, microseconds: int):
    tick = cleaner.clean(depth("rb2601", "09:00:01", millis))
    assert tick is not None and tick.datetime.microsecond == microseconds


def test_unset_prices_become_zero(cleaner: TickCleaner):
    tick = cleaner.clean(depth("rb2601", "09:00:00", AskPrice1=DBL_MAX, AskVolume1=0, SettlementPrice=DBL_MAX,
                               OpenPrice=DBL_MAX, AveragePrice=DBL_MAX))  # fmt: skip
    assert tick is not None
    assert (tick.ask_price_1, tick.open_price, tick.average_price) == (0.0, 0.0, 0.0)
    assert tick.bid_price_1 == 3099.0


@pytest.mark.parametrize(
    "row",
    [
        depth("rb2601", ""),  # empty UpdateTime
        depth("rb2601", "25:00:00"),  # nonsense time
        depth("zz9999", "09:00:00"),  # unknown instrument
    ],
)
def test_unusable_ticks_are_dropped(cleaner: TickCleaner, row: dict[str, object]):
    assert cleaner.clean(row) is None
    assert cleaner.dropped == 1


def test_out_of_order_ticks_are_dropped_but_equal_stamps_pass(cleaner: TickCleaner):
    assert cleaner.clean(depth("rb2601", "09:00:01", 500)) is not None
    assert cleaner.clean(depth("rb2601", "09:00:01", 0)) is None  # older: dropped
    assert cleaner.clean(depth("rb2601", "09:00:01", 500)) is not None  # CZCE-style equal stamps are normal
    assert cleaner.clean(depth("MA601", "09:00:00")) is not None  # per instrument


def test_exchange_is_filled_from_the_instrument_table(cleaner: TickCleaner):
    tick = cleaner.clean(depth("rb2601", "09:00:00", ExchangeID=""))
    assert tick is not None and tick.exchange is Exchange.SHFE and tick.local_symbol == "rb2601.SHFE"


def test_every_depth_field_lands_in_its_tick_field(cleaner: TickCleaner):
    names = {"LastPrice": "last_price", "Volume": "volume", "Turnover": "turnover", "OpenInterest": "open_interest",
             "OpenPrice": "open_price", "HighestPrice": "high_price", "LowestPrice": "low_price",
             "PreClosePrice": "pre_close", "PreSettlementPrice": "pre_settlement_price",
             "UpperLimitPrice": "limit_up", "LowerLimitPrice": "limit_down",
             "AveragePrice": "average_price"}  # fmt: skip
    for level in range(1, 6):
        names[f"BidPrice{level}"], names[f"AskPrice{level}"] = f"bid_price_{level}", f"ask_price_{level}"
        names[f"BidVolume{level}"], names[f"AskVolume{level}"] = f"bid_volume_{level}", f"ask_volume_{level}"
    # CZCE: its AveragePrice is already per unit, so every field lands as it is
    row = depth("MA601", "09:00:00", **{ctp: float(number) for number, ctp in enumerate(names, start=1)})
    row["Volume"] = 2
    for level in range(1, 6):
        row[f"BidVolume{level}"] = int(row[f"BidVolume{level}"])
        row[f"AskVolume{level}"] = int(row[f"AskVolume{level}"])
    tick = cleaner.clean(row)
    assert tick is not None
    values = tick.to_dict()
    assert {ours: values[ours] for ours in names.values()} == {ours: row[ctp] for ctp, ours in names.items()}


@pytest.mark.parametrize(
    ("symbol", "exchange", "size", "average", "expected"),
    [
        ("IF2512", Exchange.CFFEX, 300, 3896.16 * 300, 3896.16),  # the 1,168,848 for IF
        ("rb2601", Exchange.SHFE, 10, 31690.0, 3169.0),
        ("i2601", Exchange.DCE, 100, 76700.0, 767.0),
        ("MA601", Exchange.CZCE, 10, 2410.0, 2410.0),  # CZCE's AveragePrice excludes the multiplier
        ("rb2601", Exchange.SHFE, 10, 0.0, 0.0),  # no trade yet
        ("rb2601", Exchange.SHFE, 10, DBL_MAX, 0.0),  # unset
    ],
)
def test_the_average_price_is_per_unit_on_every_exchange(
    symbol: str, exchange: Exchange, size: int, average: float, expected: float
):
    # CTP's AveragePrice is turnover / volume: it includes the multiplier except on CZCE (CTP.md §5).
    cleaner = TickCleaner(contracts={symbol: ContractData(symbol, exchange, symbol, Product.FUTURES, size, 0.2)},
                          trading_day=TUESDAY)  # fmt: skip
    tick = cleaner.clean(depth(symbol, "10:00:00", AveragePrice=average))
    assert tick is not None and tick.average_price == pytest.approx(expected, rel=1e-12)


# --- the session filter (CTP.md §5: a front pushes the last session's tick on connecting out of hours) ---


def filtering(product_id: str = "") -> TickCleaner:
    contracts = {
        "rb2601": ContractData("rb2601", Exchange.SHFE, "rb2601", Product.FUTURES, 10, 1.0, product_id=product_id),
        "IF2512": contract("IF2512", Exchange.CFFEX),
        "zz2601": contract("zz2601", Exchange.SHFE),  # a product lib.sessions does not know
    }
    return TickCleaner(contracts=contracts, trading_day=TUESDAY, session_filter=True)


@pytest.mark.parametrize(
    ("symbol", "clock", "kept"),
    [
        ("rb2601", "21:00:00", True), ("rb2601", "22:59:59", True), ("rb2601", "23:30:00", False),
        ("rb2601", "08:59:00", True),  # the opening auction's tick
        ("rb2601", "12:00:00", False), ("rb2601", "15:00:00", True), ("rb2601", "16:30:00", False),
        ("IF2512", "09:00:00", False), ("IF2512", "09:30:00", True), ("IF2512", "21:30:00", False),
        ("zz2601", "03:00:00", True),  # unknown hours: nothing is dropped
    ],
)  # fmt: skip
def test_session_filter_drops_ticks_stamped_outside_the_sessions(symbol: str, clock: str, kept: bool):
    cleaner = filtering()
    assert (cleaner.clean(depth(symbol, clock)) is not None) is kept
    assert cleaner.dropped == (0 if kept else 1)


def test_session_filter_uses_the_counters_product_id_before_the_symbol():
    # ProductID "IF" (index hours) wins over the symbol's "rb" (night hours).
    cleaner = filtering(product_id="IF")
    assert cleaner.clean(depth("rb2601", "21:30:00")) is None
    assert cleaner.clean(depth("rb2601", "09:30:00")) is not None


def test_a_dropped_stale_tick_does_not_block_the_session_that_follows():
    # Connecting at 17:00, the front pushes the day's last tick stamped 17:00 (a DCE-style future stamp):
    # dropped, and the night session's ticks that follow pass.
    cleaner = filtering()
    assert cleaner.clean(depth("rb2601", "17:00:00")) is None
    assert cleaner.clean(depth("rb2601", "21:00:00", 500)) is not None


def test_session_filter_can_be_turned_on_for_instruments_already_seen():
    cleaner = filtering()
    cleaner.set_session_filter(False)
    assert cleaner.clean(depth("rb2601", "03:00:00")) is not None  # off: kept
    cleaner.set_session_filter(True)
    assert cleaner.clean(depth("rb2601", "03:00:01")) is None


@pytest.mark.parametrize(
    ("setting", "interface", "on"),
    [("auto", "sim", False), ("auto", "ctp", True), ("auto", "tts", True), ("", "ctp", True),
     ("on", "sim", True), ("ON", "sim", True), ("off", "ctp", False)],
)  # fmt: skip
def test_session_filter_setting(setting: str, interface: str, on: bool):
    assert session_filter_on(setting, interface) is on


def test_a_bad_session_filter_setting_is_a_clear_error():
    with pytest.raises(ValueError, match="auto, on, off"):
        session_filter_on("sometimes", "ctp")
