"""CTP field values for the sim's answers: instruments, market snapshots, account, positions, rates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from backend.sim import wire
from backend.sim.calendar import is_night
from backend.sim.instruments import InstrumentSpec
from backend.sim.ledger import AccountFigures, DetailRow, PositionRow
from backend.sim.market import LEVELS, Quote
from backend.sim.structs import positional, struct_classes, to_dict

EXCHANGE_NAMES = {
    "SHFE": "上海期货交易所",
    "INE": "上海国际能源交易中心",
    "DCE": "大连商品交易所",
    "CZCE": "郑州商品交易所",
    "CFFEX": "中国金融期货交易所",
    "GFEX": "广州期货交易所",
}


def instrument_row(spec: InstrumentSpec) -> dict[str, Any]:
    return {
        "InstrumentID": spec.symbol,
        "ExchangeID": spec.exchange,
        "InstrumentName": spec.name,
        "ExchangeInstID": spec.symbol,
        "ProductID": spec.product,
        "ProductClass": spec.product_class,
        "DeliveryYear": spec.delivery_year,
        "DeliveryMonth": spec.delivery_month,
        "MaxMarketOrderVolume": spec.max_market_volume,
        "MinMarketOrderVolume": spec.min_market_volume,
        "MaxLimitOrderVolume": spec.max_limit_volume,
        "MinLimitOrderVolume": spec.min_limit_volume,
        "VolumeMultiple": spec.size,
        "PriceTick": spec.price_tick,
        "CreateDate": spec.create_date,
        "OpenDate": spec.open_date,
        "ExpireDate": spec.expire_date,
        "StartDelivDate": spec.start_deliv_date,
        "EndDelivDate": spec.end_deliv_date,
        "InstLifePhase": wire.IP_STARTED,
        "IsTrading": int(spec.is_trading),
        "PositionType": wire.PT_NET if spec.is_option else wire.CONSTANTS["THOST_FTDC_PT_Gross"],
        "PositionDateType": wire.PDT_USE_HISTORY if spec.splits_today else wire.PDT_NO_USE_HISTORY,
        "LongMarginRatio": spec.long_margin_ratio,
        "ShortMarginRatio": spec.short_margin_ratio,
        "MaxMarginSideAlgorithm": wire.MMSA_YES,
        "UnderlyingInstrID": spec.underlying,
        "StrikePrice": spec.strike_price,
        "OptionsType": spec.options_type,
        "UnderlyingMultiple": 1.0 if spec.is_option else 0.0,
    }


@dataclass(frozen=True, slots=True)
class Stamp:
    """The clock's parts every snapshot of one moment shares (computed once per market slot)."""

    calendar_day: str
    update_time: str
    millis: int
    night: bool


def stamp_for(now: datetime) -> Stamp:
    return Stamp(now.strftime("%Y%m%d"), now.strftime("%H:%M:%S"), now.microsecond // 1000, is_night(now))


DEPTH_CLASS = struct_classes("md")["CThostFtdcDepthMarketDataField"]  # only market-data APIs receive ticks
_DEFAULTS = DEPTH_CLASS._DEFAULTS
BID_PRICES = tuple(f"BidPrice{n}" for n in range(1, LEVELS + 1))
BID_VOLUMES = tuple(f"BidVolume{n}" for n in range(1, LEVELS + 1))
ASK_PRICES = tuple(f"AskPrice{n}" for n in range(1, LEVELS + 1))
ASK_VOLUMES = tuple(f"AskVolume{n}" for n in range(1, LEVELS + 1))
# DepthMarketData's fields in the order depth_struct passes them: what a quote keeps for the day,
# what a moment dates, the trade figures, then the book as the quote holds it.
DEPTH_STATIC = ("reserve1", "ExchangeID", "reserve2", "PreSettlementPrice", "PreClosePrice", "PreOpenInterest",
                "ClosePrice", "SettlementPrice", "UpperLimitPrice", "LowerLimitPrice", "PreDelta", "CurrDelta",
                "InstrumentID", "ExchangeInstID", "BandingUpperPrice", "BandingLowerPrice")  # fmt: skip
DEPTH_DATING = ("TradingDay", "ActionDay", "UpdateTime", "UpdateMillisec")
DEPTH_TRADE = ("LastPrice", "OpenPrice", "HighestPrice", "LowestPrice", "Volume", "Turnover", "OpenInterest",
               "AveragePrice")  # fmt: skip
DEPTH_ORDER = DEPTH_STATIC + DEPTH_DATING + DEPTH_TRADE + BID_PRICES + ASK_PRICES + BID_VOLUMES + ASK_VOLUMES
_new_depth = positional(DEPTH_CLASS, DEPTH_ORDER)  # every field: nothing is left at a default


def dating_rows(stamp: Stamp, trading_day: str) -> dict[str, tuple[str, str, str, int]]:
    """The date and time fields (DEPTH_DATING) of one moment's snapshots, per exchange, dated the way
    each exchange's front dates them (CTP.md §5): DCE puts the trading day into ActionDay at night,
    CZCE's TradingDay is the calendar day and CZCE has no sub-second stamps. Once per market slot."""
    rows = {}
    for exchange in EXCHANGE_NAMES:
        czce = exchange == "CZCE"
        rows[exchange] = (
            stamp.calendar_day if czce else trading_day,
            trading_day if stamp.night and exchange == "DCE" else stamp.calendar_day,
            stamp.update_time,
            0 if czce else stamp.millis,
        )
    return rows


def _template(quote: Quote, with_exchange_id: bool) -> tuple[Any, ...]:
    """The fields of a quote's snapshots that do not change during the day (DEPTH_STATIC)."""
    spec = quote.spec
    return (
        _DEFAULTS["reserve1"], spec.exchange if with_exchange_id else "", _DEFAULTS["reserve2"],
        quote.pre_settlement, quote.pre_close, quote.pre_open_interest, wire.DBL_MAX, wire.DBL_MAX,
        quote.upper_limit, quote.lower_limit, wire.DBL_MAX, wire.DBL_MAX,
        spec.symbol, _DEFAULTS["ExchangeInstID"], 0.0, 0.0,
    )  # fmt: skip


def depth_struct(
    quote: Quote,
    now: datetime,
    trading_day: str,
    with_exchange_id: bool,
    stamp: Stamp | None = None,
    dating: dict[str, tuple[str, str, str, int]] | None = None,
) -> Any:
    """A DepthMarketData snapshot (mdapi's struct), dated the way each exchange's front dates it (CTP.md §5).

    Runs for every tick of the market: the struct is filled positionally (rows.DEPTH_ORDER) from
    the quote's static fields, the moment's dating fields (`dating`: dating_rows, once per slot),
    the trade figures and the book's sequences.
    """
    if dating is None:
        dating = dating_rows(stamp or stamp_for(now), trading_day)
    if quote.template is None or quote.template_exchange_id is not with_exchange_id:
        quote.template, quote.template_exchange_id = _template(quote, with_exchange_id), with_exchange_id
    volume = quote.volume
    if volume:
        average = quote.turnover / volume
        if quote.czce:  # CZCE's AveragePrice excludes the multiplier
            average /= quote.size
        last = quote.last_price
    else:
        average, last = 0.0, wire.DBL_MAX
    return _new_depth(*quote.template, *dating[quote.exchange],
                      last, quote.open_price, quote.high_price, quote.low_price, volume, quote.turnover,
                      quote.open_interest, average,
                      *quote.bid_prices, *quote.ask_prices, *quote.bid_volumes, *quote.ask_volumes)  # fmt: skip


def depth_row(
    quote: Quote, now: datetime, trading_day: str, with_exchange_id: bool, stamp: Stamp | None = None
) -> dict[str, Any]:
    """depth_struct's fields as a dict (query answers and the snapshot pushed on subscribe)."""
    return to_dict(depth_struct(quote, now, trading_day, with_exchange_id, stamp))


def account_row(broker_id: str, figures: AccountFigures, trading_day: str) -> dict[str, Any]:
    frozen_cash = 0.0
    return {
        "BrokerID": broker_id,
        "AccountID": figures.account_id,
        "PreBalance": figures.pre_balance,
        "Deposit": figures.deposit,
        "Withdraw": figures.withdraw,
        "FrozenMargin": figures.frozen_margin,
        "FrozenCash": frozen_cash,
        "FrozenCommission": figures.frozen_commission,
        "CurrMargin": figures.margin,
        "ExchangeMargin": figures.margin,
        "Commission": figures.commission,
        "CloseProfit": figures.close_profit,
        "PositionProfit": figures.position_profit,
        "Balance": figures.balance,
        "Available": figures.available,
        "WithdrawQuota": max(0.0, figures.available),
        "TradingDay": trading_day,
        "SettlementID": 1,
        "CurrencyID": "CNY",
        "BizType": wire.CONSTANTS["THOST_FTDC_BZTP_Future"],
    }


def position_row(broker_id: str, userid: str, row: PositionRow, trading_day: str) -> dict[str, Any]:
    return {
        "BrokerID": broker_id,
        "InvestorID": userid,
        "InstrumentID": row.symbol,
        "ExchangeID": row.exchange,
        "PosiDirection": row.posi_direction,
        "HedgeFlag": wire.HF_SPECULATION,
        "PositionDate": row.position_date,
        "YdPosition": row.yd_position,
        "Position": row.position,
        "TodayPosition": row.today_position,
        "LongFrozen": row.long_frozen,
        "ShortFrozen": row.short_frozen,
        "OpenVolume": row.open_volume,
        "CloseVolume": row.close_volume,
        "OpenAmount": row.open_amount,
        "CloseAmount": row.close_amount,
        "PositionCost": row.position_cost,
        "OpenCost": row.open_cost,
        "UseMargin": row.use_margin,
        "ExchangeMargin": row.use_margin,
        "Commission": row.commission,
        "CloseProfit": row.close_profit,
        "CloseProfitByDate": row.close_profit,
        "PositionProfit": row.position_profit,
        "PreSettlementPrice": row.pre_settlement_price,
        "SettlementPrice": row.settlement_price,
        "TradingDay": trading_day,
        "SettlementID": 1,
    }


def detail_row(broker_id: str, userid: str, row: DetailRow, trading_day: str) -> dict[str, Any]:
    return {
        "BrokerID": broker_id,
        "InvestorID": userid,
        "InstrumentID": row.symbol,
        "ExchangeID": row.exchange,
        "HedgeFlag": wire.HF_SPECULATION,
        "Direction": row.direction,
        "OpenDate": row.open_date,
        "TradeID": row.trade_id,
        "Volume": row.volume,
        "OpenPrice": row.open_price,
        "TradingDay": trading_day,
        "SettlementID": 1,
        "TradeType": wire.TRADE_TYPE_COMMON,
        "Margin": row.margin,
        "ExchMargin": row.margin,
        "LastSettlementPrice": row.basis,
        "SettlementPrice": row.basis,
        "PositionProfitByDate": row.position_profit,
        "PositionProfitByTrade": row.position_profit_by_trade,
    }


def margin_rate_row(broker_id: str, userid: str, spec: InstrumentSpec, exchange_level: bool) -> dict[str, Any]:
    row = {
        "BrokerID": broker_id,
        "InstrumentID": spec.symbol,
        "ExchangeID": spec.exchange,
        "HedgeFlag": wire.HF_SPECULATION,
        "LongMarginRatioByMoney": spec.long_margin_ratio,
        "LongMarginRatioByVolume": 0.0,
        "ShortMarginRatioByMoney": spec.short_margin_ratio,
        "ShortMarginRatioByVolume": 0.0,
    }
    if not exchange_level:
        row.update(InvestorID=userid, InvestorRange=wire.CONSTANTS["THOST_FTDC_IR_Single"], IsRelative=0)
    return row


def commission_row(broker_id: str, userid: str, spec: InstrumentSpec) -> dict[str, Any]:
    fees = spec.fees
    return {
        "BrokerID": broker_id,
        "InvestorID": userid,
        "InstrumentID": spec.symbol,
        "ExchangeID": spec.exchange,
        "InvestorRange": wire.CONSTANTS["THOST_FTDC_IR_Single"],
        "OpenRatioByMoney": fees.open_by_money,
        "OpenRatioByVolume": fees.open_by_volume,
        "CloseRatioByMoney": fees.close_by_money,
        "CloseRatioByVolume": fees.close_by_volume,
        "CloseTodayRatioByMoney": fees.close_today_by_money,
        "CloseTodayRatioByVolume": fees.close_today_by_volume,
        "BizType": wire.CONSTANTS["THOST_FTDC_BZTP_Future"],
    }
