"""CTP field values for the sim's answers: instruments, market snapshots, account, positions, rates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backend.sim import wire
from backend.sim.calendar import is_night
from backend.sim.instruments import InstrumentSpec
from backend.sim.ledger import AccountFigures, DetailRow, PositionRow
from backend.sim.market import LEVELS, Quote

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


def depth_row(quote: Quote, now: datetime, trading_day: str, with_exchange_id: bool) -> dict[str, Any]:
    """A DepthMarketData snapshot, dated the way each exchange's front dates it (CTP.md §5)."""
    spec = quote.spec
    calendar_day = now.strftime("%Y%m%d")
    night = is_night(now)
    # DCE puts the trading day into ActionDay at night; CZCE's TradingDay is the calendar day.
    action_day = trading_day if spec.exchange == "DCE" and night else calendar_day
    trading_day_field = calendar_day if spec.exchange == "CZCE" else trading_day
    millis = 0 if spec.exchange == "CZCE" else now.microsecond // 1000
    average = 0.0
    if quote.volume:
        average = quote.turnover / quote.volume
        if spec.exchange == "CZCE":
            average /= spec.size  # CZCE's AveragePrice excludes the multiplier
    row: dict[str, Any] = {
        "TradingDay": trading_day_field,
        "ActionDay": action_day,
        "ExchangeID": spec.exchange if with_exchange_id else "",
        "InstrumentID": spec.symbol,
        "LastPrice": quote.last_price if quote.traded else wire.DBL_MAX,
        "PreSettlementPrice": quote.pre_settlement,
        "PreClosePrice": quote.pre_close,
        "PreOpenInterest": quote.pre_open_interest,
        "OpenPrice": quote.open_price,
        "HighestPrice": quote.high_price,
        "LowestPrice": quote.low_price,
        "Volume": quote.volume,
        "Turnover": quote.turnover,
        "OpenInterest": quote.open_interest,
        "ClosePrice": wire.DBL_MAX,
        "SettlementPrice": wire.DBL_MAX,
        "UpperLimitPrice": quote.upper_limit,
        "LowerLimitPrice": quote.lower_limit,
        "PreDelta": wire.DBL_MAX,
        "CurrDelta": wire.DBL_MAX,
        "UpdateTime": now.strftime("%H:%M:%S"),
        "UpdateMillisec": millis,
        "AveragePrice": average,
        "BandingUpperPrice": 0.0,
        "BandingLowerPrice": 0.0,
    }
    for level in range(LEVELS):
        number = level + 1
        row[f"BidPrice{number}"] = quote.bid_prices[level]
        row[f"BidVolume{number}"] = quote.bid_volumes[level]
        row[f"AskPrice{number}"] = quote.ask_prices[level]
        row[f"AskVolume{number}"] = quote.ask_volumes[level]
    return row


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
