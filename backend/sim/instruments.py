"""Instrument definitions of the simulated counter.

The dataclasses here are the contract between the instrument table, the market simulator, the
ledger (margins, fees, today/yesterday lots) and the counter's query answers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from lib.price_grid import to_tick
from lib.sessions import Sessions, sessions_for
from lib.trading_calendar import is_business_day, next_business_day, previous_business_day

# Exchanges that keep today's and yesterday's lots apart and need CloseToday ('3') for today's lots.
TODAY_YESTERDAY_EXCHANGES = frozenset({"SHFE", "INE"})
# Exchanges that refuse plain market (any-price) orders.
NO_MARKET_ORDER_EXCHANGES = frozenset({"SHFE", "INE", "CFFEX"})
# Exchanges that refuse FOK on futures.
NO_FOK_EXCHANGES = frozenset({"CZCE"})


@dataclass(frozen=True)
class FeeRates:
    """Commission rates; each leg is charged by money (ratio × turnover) plus by volume (yuan a lot)."""

    open_by_money: float = 0.0
    open_by_volume: float = 0.0
    close_by_money: float = 0.0
    close_by_volume: float = 0.0
    close_today_by_money: float = 0.0
    close_today_by_volume: float = 0.0


@dataclass(frozen=True)
class InstrumentSpec:
    """One tradable (or quote-only) instrument as the sim's exchange knows it."""

    symbol: str  # InstrumentID, e.g. "rb2601" (CZCE: "MA601")
    exchange: str  # SHFE, INE, DCE, CZCE, CFFEX, GFEX
    product: str  # ProductID, e.g. "rb"
    name: str  # InstrumentName, e.g. "螺纹钢2601"
    size: int  # VolumeMultiple
    price_tick: float
    long_margin_ratio: float
    short_margin_ratio: float
    fees: FeeRates
    # Trading sessions in exchange time, "HH:MM" pairs; a night session that passes midnight is
    # written as ("21:00", "01:00").
    sessions: tuple[tuple[str, str], ...]
    band: float  # daily price limit as a fraction of the previous settlement, e.g. 0.07
    base_price: float  # previous settlement on the sim's first day (on the tick)
    delivery_year: int
    delivery_month: int
    create_date: str  # YYYYMMDD
    open_date: str  # YYYYMMDD
    expire_date: str  # YYYYMMDD
    start_deliv_date: str  # YYYYMMDD
    end_deliv_date: str  # YYYYMMDD
    product_class: str = "1"  # '1' futures, '2' options (options are quote-only in the sim)
    max_market_volume: int = 500
    min_market_volume: int = 1
    max_limit_volume: int = 1000
    min_limit_volume: int = 1
    underlying: str = ""  # options only: the underlying future's symbol
    strike_price: float = 0.0  # options only
    options_type: str = ""  # options only: '1' call, '2' put
    is_trading: bool = True
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def local_symbol(self) -> str:
        return f"{self.symbol}.{self.exchange}"

    @property
    def splits_today(self) -> bool:
        """True where the exchange keeps today's and yesterday's lots apart (SHFE, INE)."""
        return self.exchange in TODAY_YESTERDAY_EXCHANGES

    @property
    def is_option(self) -> bool:
        return self.product_class == "2"


# ---------------------------------------------------------------------------------------------------
# The built-in product table.
#
# Values are typical of the Chinese futures market in 2024-2025 (exchange margins plus a little,
# exchange fees, listing rules); prices are round levels of that period. They are plausible, not
# authoritative: the sim needs realistic shapes (multipliers, ticks, sessions, symbol formats), not
# today's settlement prices.
# ---------------------------------------------------------------------------------------------------


ALL = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)
ODD = (1, 3, 5, 7, 9, 11)
EVEN = (2, 4, 6, 8, 10, 12)
QUARTERS = (3, 6, 9, 12)
SOY = (1, 3, 5, 7, 8, 9, 11, 12)  # m, y
RUBBER = (1, 3, 4, 5, 6, 7, 8, 9, 10, 11)  # ru: no February or December contract
RAPESEED_MEAL = (1, 3, 5, 7, 8, 9, 11)
APPLE = (1, 3, 4, 5, 10, 11, 12)
JUJUBE = (1, 3, 5, 7, 9, 12)
PEANUT = (1, 3, 4, 10, 11, 12)

# (max limit-order volume, max market-order volume) per exchange unless a product overrides them.
ORDER_LIMITS = {
    "SHFE": (500, 30),
    "INE": (500, 30),
    "DCE": (1000, 1000),
    "CZCE": (1000, 200),
    "CFFEX": (20, 10),
    "GFEX": (500, 50),
}


def _money(rate: float, close_today: float | None = None) -> FeeRates:
    """Fees by turnover; `close_today` defaults to the ordinary close rate."""
    today = float(rate if close_today is None else close_today)
    return FeeRates(open_by_money=float(rate), close_by_money=float(rate), close_today_by_money=today)


def _lots(yuan: float, close_today: float | None = None) -> FeeRates:
    """Fees in yuan a lot; `close_today` defaults to the ordinary close fee."""
    today = float(yuan if close_today is None else close_today)
    return FeeRates(open_by_volume=float(yuan), close_by_volume=float(yuan), close_today_by_volume=today)


@dataclass(frozen=True)
class Product:
    """One row of the product table; `builtin_instruments` turns it into listed contracts.

    `kind` picks the listing and expiry rules: "commodity" (listed a year ahead, every month in
    `months`), "index" (CFFEX stock index: this month, next month, next two quarter months) or
    "bond" (CFFEX treasury: the three nearest quarter months). `option` is the ProductID of the
    options on this future ("" when none are simulated). Zero order limits mean the exchange's.
    """

    exchange: str
    product: str
    name: str
    size: int
    tick: float
    price: float
    margin: float
    band: float
    fees: FeeRates
    months: tuple[int, ...]
    option: str = ""
    kind: str = "commodity"
    max_limit: int = 0
    max_market: int = 0

    @property
    def sessions(self) -> Sessions:
        """The product's trading hours, from lib.sessions: the table the desk uses for real counters too."""
        found = sessions_for(self.product)
        if found is None:
            raise KeyError(f"no trading sessions for product {self.product!r} in lib.sessions")
        return found


_P = Product
_INDEX_FEES = _money(0.000023, 0.00023)  # CFFEX charges ten times the rate for closing today's lots
_BOND_FEES = _lots(3, 0)

# fmt: off
PRODUCTS: tuple[Product, ...] = (
    # SHFE ---------------------------------------------------------------------------------------
    _P("SHFE", "cu", "铜", 5, 10, 78000, 0.09, 0.07, _money(0.00005, 0.0001), ALL, "cu_o"),
    _P("SHFE", "al", "铝", 5, 5, 20500, 0.09, 0.07, _lots(3, 0), ALL, "al_o"),
    _P("SHFE", "zn", "锌", 5, 5, 23000, 0.09, 0.07, _lots(3, 0), ALL, "zn_o"),
    _P("SHFE", "pb", "铅", 5, 5, 17000, 0.09, 0.07, _money(0.00004, 0), ALL, "pb_o"),
    _P("SHFE", "ni", "镍", 1, 10, 125000, 0.12, 0.10, _lots(3), ALL, "ni_o"),
    _P("SHFE", "sn", "锡", 1, 10, 260000, 0.13, 0.10, _lots(3), ALL, "sn_o"),
    _P("SHFE", "ss", "不锈钢", 5, 5, 13000, 0.08, 0.07, _lots(2, 0), ALL),
    _P("SHFE", "ao", "氧化铝", 20, 1, 3200, 0.09, 0.07, _money(0.0001), ALL, "ao_o"),
    _P("SHFE", "au", "黄金", 1000, 0.02, 780, 0.10, 0.08, _lots(10, 0), EVEN, "au_o"),
    _P("SHFE", "ag", "白银", 15, 1, 8000, 0.11, 0.09, _money(0.00005), ALL, "ag_o"),
    _P("SHFE", "rb", "螺纹钢", 10, 1, 3200, 0.07, 0.07, _money(0.0001), ALL),
    _P("SHFE", "hc", "热轧卷板", 10, 1, 3300, 0.07, 0.07, _money(0.0001), ALL),
    _P("SHFE", "ru", "天然橡胶", 10, 5, 15000, 0.08, 0.07, _lots(3), RUBBER, "ru_o"),
    _P("SHFE", "br", "丁二烯橡胶", 5, 5, 12000, 0.10, 0.08, _money(0.00002), ALL, "br_o"),
    _P("SHFE", "bu", "石油沥青", 10, 1, 3500, 0.08, 0.07, _money(0.00005), ALL),
    _P("SHFE", "fu", "燃料油", 10, 1, 3000, 0.10, 0.08, _money(0.00005), ALL),
    _P("SHFE", "sp", "纸浆", 10, 2, 5500, 0.08, 0.07, _money(0.00005, 0), ALL),
    _P("SHFE", "wr", "线材", 10, 1, 3500, 0.09, 0.07, _money(0.00004), ALL),
    # INE ----------------------------------------------------------------------------------------
    _P("INE", "sc", "原油", 1000, 0.1, 520, 0.10, 0.08, _lots(20, 0), ALL, "sc_o"),
    _P("INE", "lu", "低硫燃料油", 10, 1, 3500, 0.10, 0.08, _money(0.00001), ALL),
    _P("INE", "nr", "20号胶", 10, 5, 12500, 0.08, 0.07, _money(0.00002), ALL),
    _P("INE", "bc", "国际铜", 5, 10, 70000, 0.08, 0.07, _money(0.00001), ALL),
    _P("INE", "ec", "集运指数(欧线)", 50, 0.1, 1800, 0.18, 0.16, _money(0.0006), EVEN),
    # DCE ----------------------------------------------------------------------------------------
    _P("DCE", "i", "铁矿石", 100, 0.5, 780, 0.11, 0.10, _money(0.0001), ALL, "i_o"),
    _P("DCE", "m", "豆粕", 10, 1, 2900, 0.07, 0.06, _lots(1.5), SOY, "m_o"),
    _P("DCE", "y", "豆油", 10, 2, 8000, 0.07, 0.06, _lots(2.5), SOY, "y_o"),
    _P("DCE", "p", "棕榈油", 10, 2, 8800, 0.08, 0.07, _lots(2.5), ALL, "p_o"),
    _P("DCE", "a", "豆一", 10, 1, 4000, 0.08, 0.07, _lots(2), ODD, "a_o"),
    _P("DCE", "b", "豆二", 10, 1, 3600, 0.08, 0.07, _lots(1), ALL, "b_o"),
    _P("DCE", "c", "玉米", 10, 1, 2250, 0.07, 0.05, _lots(1.2), ODD, "c_o"),
    _P("DCE", "cs", "玉米淀粉", 10, 1, 2600, 0.07, 0.05, _lots(1.5), ODD, "cs_o"),
    _P("DCE", "jm", "焦煤", 60, 0.5, 1200, 0.12, 0.10, _money(0.0001, 0.0003), ALL),
    _P("DCE", "j", "焦炭", 100, 0.5, 1800, 0.12, 0.10, _money(0.0001, 0.00014), ALL),
    _P("DCE", "l", "聚乙烯", 5, 1, 7300, 0.07, 0.06, _lots(1), ALL, "l_o"),
    _P("DCE", "v", "聚氯乙烯", 5, 1, 5000, 0.07, 0.06, _lots(1), ALL, "v_o"),
    _P("DCE", "pp", "聚丙烯", 5, 1, 7100, 0.07, 0.06, _lots(1), ALL, "pp_o"),
    _P("DCE", "eg", "乙二醇", 10, 1, 4400, 0.08, 0.07, _lots(3), ALL, "eg_o"),
    _P("DCE", "eb", "苯乙烯", 5, 1, 7500, 0.08, 0.07, _lots(3), ALL, "eb_o"),
    _P("DCE", "pg", "液化石油气", 20, 1, 4500, 0.08, 0.07, _lots(6), ALL, "pg_o"),
    _P("DCE", "jd", "鸡蛋", 10, 1, 3500, 0.09, 0.07, _money(0.00015), ALL),
    _P("DCE", "lh", "生猪", 16, 5, 14000, 0.12, 0.08, _money(0.0001, 0.0002), ODD,
       max_limit=500, max_market=50),
    # CZCE ---------------------------------------------------------------------------------------
    _P("CZCE", "MA", "甲醇", 10, 1, 2500, 0.08, 0.07, _lots(2, 6), ALL, "MA_o"),
    _P("CZCE", "SR", "白糖", 10, 1, 5800, 0.07, 0.06, _lots(3, 0), ODD, "SR_o"),
    _P("CZCE", "CF", "棉花", 5, 5, 14000, 0.07, 0.06, _lots(4.3, 0), ODD, "CF_o"),
    _P("CZCE", "TA", "PTA", 5, 2, 4800, 0.07, 0.06, _lots(3, 0), ALL, "TA_o"),
    _P("CZCE", "OI", "菜籽油", 10, 1, 9000, 0.09, 0.07, _lots(2), ODD, "OI_o"),
    _P("CZCE", "RM", "菜籽粕", 10, 1, 2500, 0.09, 0.07, _lots(1.5), RAPESEED_MEAL, "RM_o"),
    _P("CZCE", "FG", "玻璃", 20, 1, 1200, 0.09, 0.08, _lots(6), ALL, "FG_o"),
    _P("CZCE", "SA", "纯碱", 20, 1, 1400, 0.09, 0.08, _lots(3.5), ALL, "SA_o"),
    _P("CZCE", "PF", "短纤", 5, 2, 7000, 0.08, 0.07, _lots(3), ALL, "PF_o"),
    _P("CZCE", "SH", "烧碱", 30, 1, 2500, 0.09, 0.07, _money(0.0001), ALL, "SH_o"),
    _P("CZCE", "PX", "对二甲苯", 5, 2, 8000, 0.09, 0.07, _money(0.0001), ALL, "PX_o"),
    _P("CZCE", "CY", "棉纱", 5, 5, 20000, 0.07, 0.06, _lots(4, 0), ALL),
    _P("CZCE", "AP", "苹果", 10, 1, 7500, 0.10, 0.08, _lots(5, 20), APPLE, "AP_o"),
    _P("CZCE", "UR", "尿素", 20, 1, 1800, 0.08, 0.07, _lots(5), ALL, "UR_o"),
    _P("CZCE", "SF", "硅铁", 5, 2, 6000, 0.09, 0.07, _lots(3), ALL, "SF_o"),
    _P("CZCE", "SM", "锰硅", 5, 2, 6200, 0.09, 0.07, _lots(3), ALL, "SM_o"),
    _P("CZCE", "CJ", "红枣", 5, 5, 10500, 0.10, 0.08, _lots(3), JUJUBE),
    _P("CZCE", "PK", "花生", 5, 2, 8500, 0.08, 0.07, _lots(4), PEANUT, "PK_o"),
    # CFFEX --------------------------------------------------------------------------------------
    _P("CFFEX", "IF", "沪深300股指", 300, 0.2, 3900, 0.12, 0.10, _INDEX_FEES, ALL, "IO",
       kind="index"),
    _P("CFFEX", "IH", "上证50股指", 300, 0.2, 2700, 0.12, 0.10, _INDEX_FEES, ALL, "HO",
       kind="index"),
    _P("CFFEX", "IC", "中证500股指", 200, 0.2, 5800, 0.12, 0.10, _INDEX_FEES, ALL, kind="index"),
    _P("CFFEX", "IM", "中证1000股指", 200, 0.2, 6200, 0.12, 0.10, _INDEX_FEES, ALL, "MO",
       kind="index"),
    _P("CFFEX", "TS", "二年期国债", 20000, 0.002, 102.5, 0.005, 0.005, _BOND_FEES, QUARTERS,
       kind="bond", max_limit=50, max_market=30),
    _P("CFFEX", "TF", "五年期国债", 10000, 0.005, 105.5, 0.012, 0.012, _BOND_FEES, QUARTERS,
       kind="bond", max_limit=50, max_market=30),
    _P("CFFEX", "T", "十年期国债", 10000, 0.005, 108.5, 0.02, 0.02, _BOND_FEES, QUARTERS,
       kind="bond", max_limit=50, max_market=30),
    _P("CFFEX", "TL", "三十年期国债", 10000, 0.01, 118, 0.035, 0.035, _BOND_FEES, QUARTERS,
       kind="bond", max_limit=50, max_market=30),
    # GFEX ---------------------------------------------------------------------------------------
    _P("GFEX", "si", "工业硅", 5, 5, 9500, 0.09, 0.07, _money(0.0001, 0), ALL, "si_o"),
    _P("GFEX", "lc", "碳酸锂", 1, 20, 75000, 0.12, 0.09, _money(0.0003), ALL, "lc_o"),
    _P("GFEX", "ps", "多晶硅", 3, 5, 45000, 0.12, 0.09, _money(0.0005), ALL, "ps_o"),
)
# fmt: on


# ---------------------------------------------------------------------------------------------------
# Listing, expiry and symbol rules: the table rolls forward from any trading day, no year is fixed.
# ---------------------------------------------------------------------------------------------------

BUILTIN_MONTHS = 3  # contracts per product in the built-in (small) table
MIN_STRIKES_EACH_SIDE = 4  # full_market widens this until it reaches min_count instruments
CFFEX_OPTIONS_SIZE = 100  # IO/HO/MO: 100 yuan an index point
# Monthly drift of deferred contracts' base prices (carry for commodities, dividends for indices).
TERM_DRIFT = {"commodity": 0.002, "index": -0.004, "bond": -0.0015}
OPTION_VOLATILITY = {"commodity": 0.22, "index": 0.20}
# Business days from the first to the last delivery day after the last trading day.
DELIVERY_SPAN = {"SHFE": 4, "INE": 4, "DCE": 2, "CZCE": 2, "GFEX": 2, "CFFEX": 2}
DASHED_OPTION_EXCHANGES = frozenset({"DCE", "GFEX", "CFFEX"})  # m2601-C-2900 vs cu2601C78000


def _add_months(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + month - 1 + delta
    return index // 12, index % 12 + 1


def _weekday_on_or_after(day: date) -> date:
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


def _nth_business_day(year: int, month: int, n: int) -> date:
    day = _weekday_on_or_after(date(year, month, 1))
    for _ in range(n - 1):
        day = next_business_day(day)
    return day


def _nth_friday(year: int, month: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 7 * (n - 1))


def _month_end(year: int, month: int) -> date:
    next_year, next_month = _add_months(year, month, 1)
    return date(next_year, next_month, 1) - timedelta(days=1)


def expire_date(row: Product, year: int, month: int) -> date:
    """Last trading day of the `row` contract for delivery in year/month (holidays ignored).

    SHFE/INE: the 15th (next business day if a weekend); DCE/CZCE/GFEX: the 10th business day;
    CFFEX index: the third Friday; CFFEX treasury: the second Friday.
    """
    if row.kind == "index":
        return _nth_friday(year, month, 3)
    if row.kind == "bond":
        return _nth_friday(year, month, 2)
    if row.exchange in ("SHFE", "INE"):
        return _weekday_on_or_after(date(year, month, 15))
    return _nth_business_day(year, month, 10)


def _listing_lead(row: Product, month: int) -> int:
    """How many months before its delivery month a contract lists (when an older one expires)."""
    if row.kind == "index":
        return 8 if month in QUARTERS else 2
    return 9 if row.kind == "bond" else 12


def open_date(row: Product, year: int, month: int) -> date:
    """First trading day: the business day after the contract `_listing_lead` months older expires."""
    old_year, old_month = _add_months(year, month, -_listing_lead(row, month))
    return next_business_day(expire_date(row, old_year, old_month))


def listed_months(row: Product, trading_day: date) -> list[tuple[int, int]]:
    """Delivery (year, month)s trading on `trading_day`, nearest first.

    A contract counts from its open date up to the day before its last trading day: the sim never
    trades a contract on its expiry day, so it never has to run an expiry or a delivery.
    """
    found = []
    for ahead in range(15):
        year, month = _add_months(trading_day.year, trading_day.month, ahead)
        if month in row.months and open_date(row, year, month) <= trading_day < expire_date(row, year, month):
            found.append((year, month))
    return found


def future_symbol(row: Product, year: int, month: int) -> str:
    """InstrumentID: product + yymm (rb2601, IF2512); CZCE writes one year digit (MA601)."""
    if row.exchange == "CZCE":
        return f"{row.product}{year % 10}{month:02d}"
    return f"{row.product}{year % 100:02d}{month:02d}"


def _ymd(day: date) -> str:
    return day.strftime("%Y%m%d")


def _after_business_days(day: date, count: int) -> date:
    for _ in range(count):
        day = next_business_day(day)
    return day


def _contract_dates(row: Product, year: int, month: int) -> dict[str, str]:
    opened = open_date(row, year, month)
    expire = expire_date(row, year, month)
    start = expire if row.kind == "index" else next_business_day(expire)  # index futures: cash
    end = start if row.kind == "index" else _after_business_days(start, DELIVERY_SPAN[row.exchange])
    return {
        "create_date": _ymd(previous_business_day(opened)),
        "open_date": _ymd(opened),
        "expire_date": _ymd(expire),
        "start_deliv_date": _ymd(start),
        "end_deliv_date": _ymd(end),
    }


def _order_limits(row: Product) -> tuple[int, int]:
    limit, market = ORDER_LIMITS[row.exchange]
    return row.max_limit or limit, row.max_market or market


def _future_price(row: Product, trading_day: date, year: int, month: int) -> float:
    ahead = (year - trading_day.year) * 12 + month - trading_day.month
    return to_tick(row.price * (1 + TERM_DRIFT[row.kind] * ahead), row.tick)


def make_future(row: Product, trading_day: date, year: int, month: int) -> InstrumentSpec:
    """The futures contract of `row` for delivery in year/month, priced as of `trading_day`."""
    symbol = future_symbol(row, year, month)
    max_limit, max_market = _order_limits(row)
    return InstrumentSpec(
        symbol=symbol,
        exchange=row.exchange,
        product=row.product,
        name=row.name + symbol[len(row.product) :],
        size=row.size,
        price_tick=float(row.tick),
        long_margin_ratio=row.margin,
        short_margin_ratio=row.margin,
        fees=row.fees,
        sessions=row.sessions,
        band=row.band,
        base_price=_future_price(row, trading_day, year, month),
        delivery_year=year,
        delivery_month=month,
        max_market_volume=max_market,
        max_limit_volume=max_limit,
        **_contract_dates(row, year, month),
    )


def builtin_instruments(trading_day: date) -> list[InstrumentSpec]:
    """The sim's default table: the nearest `BUILTIN_MONTHS` listed contracts of every product."""
    return [
        make_future(row, trading_day, year, month)
        for row in PRODUCTS
        for year, month in listed_months(row, trading_day)[:BUILTIN_MONTHS]
    ]


# ---------------------------------------------------------------------------------------------------
# The full market: every listed future plus quote-only options, for load tests and the
# instrument-query paths (a real front answers ReqQryInstrument with several thousand rows).
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Series:
    """One option expiry on one listed future."""

    row: Product
    future: InstrumentSpec
    expire: date
    step: float


def option_expire_date(row: Product, year: int, month: int) -> date:
    """Commodity options stop on the 5th-last business day of the month before delivery;
    CFFEX index options expire with the future (third Friday)."""
    if row.kind == "index":
        return expire_date(row, year, month)
    before_year, before_month = _add_months(year, month, -1)
    day = _month_end(before_year, before_month)
    day = day if is_business_day(day) else previous_business_day(day)
    for _ in range(4):
        day = previous_business_day(day)
    return day


def strike_step(price: float, tick: float) -> float:
    """A 1-2-5 strike spacing near 1.5 % of the price, on the future's tick."""
    target = price * 0.015
    candidates = [mantissa * 10.0**power for power in range(-3, 7) for mantissa in (1, 2, 5)]
    step = min(candidates, key=lambda value: abs(math.log(value / target)))
    return max(to_tick(step, tick), tick)


def _option_tick(row: Product) -> float:
    """Option premium tick: finer than the future's (cu options tick 1 yuan, m options 0.5)."""
    if row.kind == "index" or row.tick < 1:
        return row.tick
    return row.tick / 10 if row.tick >= 10 else row.tick / 5 if row.tick >= 5 else 0.5


def _black76(forward: float, strike: float, years: float, vol: float, call: bool) -> float:
    """Undiscounted Black-76 premium; good enough for plausible quote-only option prices."""
    spread = vol * math.sqrt(years)
    d1 = (math.log(forward / strike) + spread * spread / 2) / spread
    d2 = d1 - spread

    def cdf(x: float) -> float:
        return 0.5 * (1 + math.erf(x / math.sqrt(2)))

    if call:
        return forward * cdf(d1) - strike * cdf(d2)
    return strike * cdf(-d2) - forward * cdf(-d1)


def _format_strike(strike: float) -> str:
    return str(int(strike)) if float(strike).is_integer() else repr(strike)


def option_symbol(series: _Series, call: bool, strike: float) -> str:
    """cu2601C78000 (SHFE/INE), MA601C2500 (CZCE), m2601-C-2900 (DCE/GFEX), IO2512-C-4000."""
    future, row, flag = series.future.symbol, series.row, "C" if call else "P"
    if row.kind == "index":
        future = row.option + future[len(row.product) :]
    if row.exchange in DASHED_OPTION_EXCHANGES:
        return f"{future}-{flag}-{_format_strike(strike)}"
    return f"{future}{flag}{_format_strike(strike)}"


def _option_series(trading_day: date, futures: list[InstrumentSpec]) -> list[_Series]:
    rows = {row.product: row for row in PRODUCTS if row.option}
    series = []
    for future in futures:
        row = rows.get(future.product)
        if row is None:
            continue
        expire = option_expire_date(row, future.delivery_year, future.delivery_month)
        if trading_day < expire:
            series.append(_Series(row, future, expire, strike_step(future.base_price, row.tick)))
    return series


def _strikes(series: _Series, each_side: int) -> list[float]:
    """Strikes at-the-money ± `each_side` steps, positive ones only."""
    step = series.step
    atm = round(series.future.base_price / step)
    return [to_tick(k * step, step) for k in range(atm - each_side, atm + each_side + 1) if k > 0]


def make_option(series: _Series, trading_day: date, call: bool, strike: float) -> InstrumentSpec:
    """One quote-only option of `series`."""
    row, future = series.row, series.future
    tick = _option_tick(row)
    years = max((series.expire - trading_day).days, 1) / 365
    premium = _black76(future.base_price, strike, years, OPTION_VOLATILITY[row.kind], call)
    expire = _ymd(series.expire)
    fee = 15.0 if row.exchange == "CFFEX" else 2.0
    return InstrumentSpec(
        symbol=option_symbol(series, call, strike),
        exchange=row.exchange,
        product=row.option,
        name=f"{future.name}{'购' if call else '沽'}{_format_strike(strike)}",
        size=CFFEX_OPTIONS_SIZE if row.kind == "index" else row.size,
        price_tick=tick,
        long_margin_ratio=row.margin,
        short_margin_ratio=row.margin,
        fees=_lots(fee),
        sessions=row.sessions,
        band=row.band,
        base_price=max(to_tick(premium, tick), tick),
        delivery_year=future.delivery_year,
        delivery_month=future.delivery_month,
        create_date=future.create_date,
        open_date=future.open_date,
        expire_date=expire,
        start_deliv_date=expire,
        end_deliv_date=expire,
        product_class="2",
        max_market_volume=future.max_market_volume,
        max_limit_volume=future.max_limit_volume,
        underlying=future.symbol,
        strike_price=strike,
        options_type="1" if call else "2",
    )


def _strikes_each_side(series: list[_Series], base_count: int, min_count: int) -> int:
    """The smallest strike range (at least `MIN_STRIKES_EACH_SIDE`) that reaches `min_count`."""
    each_side = MIN_STRIKES_EACH_SIDE
    while base_count + sum(2 * len(_strikes(s, each_side)) for s in series) < min_count:
        each_side += 1
    return each_side


def full_market(trading_day: date, min_count: int = 5000) -> list[InstrumentSpec]:
    """Every listed future of every product plus calls and puts around the money on the optioned
    ones, with as many strikes as it takes to reach `min_count` instruments. Deterministic."""
    futures = [
        make_future(row, trading_day, year, month)
        for row in PRODUCTS
        for year, month in listed_months(row, trading_day)
    ]
    series = _option_series(trading_day, futures)
    if not series:
        return futures
    each_side = _strikes_each_side(series, len(futures), min_count)
    options = [
        make_option(s, trading_day, call, strike)
        for s in series
        for strike in _strikes(s, each_side)
        for call in (True, False)
    ]
    return futures + options


def instrument_index(specs: Iterable[InstrumentSpec]) -> dict[str, InstrumentSpec]:
    """Specs keyed by symbol; a duplicate symbol is a table bug, so it raises ValueError."""
    index: dict[str, InstrumentSpec] = {}
    for spec in specs:
        if spec.symbol in index:
            raise ValueError(f"duplicate instrument symbol {spec.symbol!r}")
        index[spec.symbol] = spec
    return index
