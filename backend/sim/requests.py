"""What the sim's front does with each Req* call: the login sequence, queries, orders, market data.

Each handler runs on the caller's thread under the exchange lock and returns what the real Req*
returns: 0 sent, -1 not connected, -2 too many outstanding queries, -3 too many queries a second.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from backend.sim import rows, wire
from backend.sim.accounts import AccountBook, hash_password, password_matches
from backend.sim.calendar import in_session, last_session_end_before
from lib.native import monotonic

if TYPE_CHECKING:
    from backend.sim.exchange import SimExchange
    from backend.sim.links import Link

Handler = Callable[["SimExchange", "Link", dict[str, Any], int], int]
OK = wire.error_info(0)


def _account(exchange: SimExchange, link: Link) -> AccountBook | None:
    return exchange.accounts.get(link.userid) if link.logged_in else None


# --- session --------------------------------------------------------------------------------------
def authenticate(exchange: SimExchange, link: Link, values: dict[str, Any], request_id: int) -> int:
    settings = exchange.settings
    ok = not settings.auth_code or (
        values.get("AuthCode") == settings.auth_code and values.get("AppID") == settings.app_id
    )
    link.authenticated = ok
    answer = {k: values.get(k, "") for k in ("BrokerID", "UserID", "UserProductInfo", "AppID")}
    answer["AppType"] = wire.CONSTANTS["THOST_FTDC_APP_TYPE_Investor"]
    link.respond("OnRspAuthenticate", "CThostFtdcRspAuthenticateField", answer,
                 OK if ok else wire.error_info(63), request_id, True)  # fmt: skip
    return 0


def user_login(exchange: SimExchange, link: Link, values: dict[str, Any], request_id: int) -> int:
    settings = exchange.settings
    userid = values.get("UserID", "")
    book = exchange.accounts.get(userid)
    if link.kind == "md":
        error = 0  # market-data fronts usually ignore credentials
    elif settings.auth_code and not link.authenticated:
        error = 63
    elif link.logged_in:
        error = 5
    elif (
        book is None
        or not password_matches(book.password_hash, values.get("Password"))
        or (settings.broker_id and values.get("BrokerID") != settings.broker_id)
    ):
        error = 3
    else:
        error = 0
    now = exchange.now()
    answer: dict[str, Any] = {"TradingDay": exchange.trading_day, "LoginTime": now.strftime("%H:%M:%S"),
              "BrokerID": values.get("BrokerID", ""), "UserID": userid, "SystemName": "ctpdesk sim",
              "FrontID": link.front_id, "SessionID": link.session_id}  # fmt: skip
    if error == 0:
        link.logged_in = True
        link.userid = userid
        link.broker_id = settings.broker_id or values.get("BrokerID", "")
        link.product_info = values.get("UserProductInfo", "")
        link.not_ready_left = settings.query_not_ready
        if book is not None and link.kind == "td":
            link.last_order_ref = book.max_order_ref
            answer["MaxOrderRef"] = str(book.max_order_ref)
        for name in ("SHFETime", "DCETime", "CZCETime", "FFEXTime", "INETime", "GFEXTime"):
            answer[name] = answer["LoginTime"]
    link.respond("OnRspUserLogin", "CThostFtdcRspUserLoginField", answer,
                 wire.error_info(error), request_id, True)  # fmt: skip
    if error == 0 and book is not None and link.kind == "td":
        _replay_private(link, book)
    return 0


def _replay_private(link: Link, book: AccountBook) -> None:
    """After login the private flow is replayed per SubscribePrivateTopic: all, the rest, or none."""
    if link.resume == wire.TERT_RESTART:
        start = 0
    elif link.resume == wire.TERT_RESUME:
        start = min(link.delivered, len(book.stream))
    else:
        start = len(book.stream)
    for kind, fields in book.stream[start:]:
        struct = link.structs["CThostFtdcOrderField" if kind == "order" else "CThostFtdcTradeField"]._make(fields)
        link.post("OnRtnOrder" if kind == "order" else "OnRtnTrade", struct)
    link.delivered = len(book.stream)


def user_logout(exchange: SimExchange, link: Link, values: dict[str, Any], request_id: int) -> int:
    link.respond("OnRspUserLogout", "CThostFtdcUserLogoutField",
                 {"BrokerID": link.broker_id, "UserID": link.userid}, OK, request_id, True)  # fmt: skip
    link.logged_in = False
    link.userid = ""
    return 0


def settlement_confirm(exchange: SimExchange, link: Link, values: dict[str, Any], request_id: int) -> int:
    book = _account(exchange, link)
    if book is None:
        link.respond("OnRspSettlementInfoConfirm", None, None, wire.error_info(6), request_id, True)
        return 0
    book.confirmed_day = exchange.trading_day
    exchange.journal_account(book, confirmed_day=book.confirmed_day)
    now = exchange.now()
    answer = {"BrokerID": link.broker_id, "InvestorID": book.userid,
              "ConfirmDate": now.strftime("%Y%m%d"), "ConfirmTime": now.strftime("%H:%M:%S"),
              "SettlementID": 1, "AccountID": book.userid, "CurrencyID": "CNY"}  # fmt: skip
    link.respond("OnRspSettlementInfoConfirm", "CThostFtdcSettlementInfoConfirmField", answer, OK, request_id, True)
    return 0


def password_update(exchange: SimExchange, link: Link, values: dict[str, Any], request_id: int) -> int:
    book = _account(exchange, link)
    error = 6 if book is None else (0 if password_matches(book.password_hash, values.get("OldPassword")) else 131)
    if not error and not values.get("NewPassword"):
        error = 15
    if book is not None and not error:
        book.password_hash = hash_password(values["NewPassword"])
        exchange.journal_account(book, password_hash=book.password_hash)
    link.respond("OnRspUserPasswordUpdate", "CThostFtdcUserPasswordUpdateField", values,
                 wire.error_info(error), request_id, True)  # fmt: skip
    return 0


def order_insert(exchange: SimExchange, link: Link, values: dict[str, Any], request_id: int) -> int:
    book = _account(exchange, link)
    if book is None:
        info = wire.error_info(6)
        link.respond("OnRspOrderInsert", "CThostFtdcInputOrderField", values, info, request_id, True)
        return 0
    exchange.desk.insert(link, book, values, request_id)
    return 0


def order_action(exchange: SimExchange, link: Link, values: dict[str, Any], request_id: int) -> int:
    book = _account(exchange, link)
    if book is None:
        info = wire.error_info(6)
        link.respond("OnRspOrderAction", "CThostFtdcInputOrderActionField", values, info, request_id, True)
        return 0
    exchange.desk.cancel(link, book, values, request_id)
    return 0


# --- queries --------------------------------------------------------------------------------------
RowBuilder = Callable[["SimExchange", AccountBook, dict[str, Any]], list[dict[str, Any]]]
MARKED_QUERIES = frozenset({"OnRspQryTradingAccount", "OnRspQryInvestorPosition", "OnRspQryInvestorPositionDetail"})


def query(callback: str, struct_name: str, build: RowBuilder) -> Handler:
    """A query handler with a real front's flow control: one outstanding, a rate, ErrorID 90."""

    def handle(exchange: SimExchange, link: Link, values: dict[str, Any], request_id: int) -> int:
        settings = exchange.settings
        book = _account(exchange, link)
        if book is None:
            link.respond(callback, None, None, wire.error_info(6), request_id, True)
            return 0
        if link.outstanding >= settings.max_outstanding_queries:
            return -2
        now = monotonic()
        if settings.query_rate > 0 and now - link.last_query < 1.0 / settings.query_rate:
            return -3
        link.last_query = now
        link.outstanding += 1
        # A real front answers for the session's account: its broker and investor, not the request's.
        values = dict(values, BrokerID=link.broker_id, InvestorID=book.userid)
        if link.not_ready_left > 0:
            link.not_ready_left -= 1
            link.respond(callback, None, None, wire.error_info(90), request_id, True, last_of_query=True)
            return 0
        if callback in MARKED_QUERIES:  # money and positions at current prices, watched or not
            exchange.live_holdings(book)
        found = build(exchange, book, values)
        if not found:
            link.respond(callback, None, None, None, request_id, True, last_of_query=True)
        for index, row in enumerate(found):
            last = index == len(found) - 1
            link.respond(callback, struct_name, row, None, request_id, last, last_of_query=last)
        return 0

    return handle


def _match(values: dict[str, Any], spec: Any) -> bool:
    wanted_symbol = values.get("InstrumentID", "")
    wanted_exchange = values.get("ExchangeID", "")
    wanted_product = values.get("ProductID", "")
    return (
        (not wanted_symbol or spec.symbol == wanted_symbol)
        and (not wanted_exchange or spec.exchange == wanted_exchange)
        and (not wanted_product or spec.product == wanted_product)
    )


def _specs(exchange: SimExchange, values: dict[str, Any]) -> list[Any]:
    return [spec for spec in exchange.specs.values() if _match(values, spec)]


def _broker(values: dict[str, Any]) -> str:
    return values["BrokerID"]  # the session's broker (query() puts it in)


def _wanted(values: dict[str, Any], row: dict[str, Any], fields: tuple[str, ...]) -> bool:
    """A query's conditions: every non-empty condition field must equal the row's (ignoring CTP's padding)."""
    return all(str(row.get(name, "")).strip() == str(values[name]).strip() for name in fields if values.get(name))


def _filtered(values: dict[str, Any], found: list[dict[str, Any]], fields: tuple[str, ...]) -> list[dict[str, Any]]:
    return [row for row in found if _wanted(values, row, fields)]


def _positions(exchange: SimExchange, book: AccountBook, values: dict[str, Any]) -> list[dict[str, Any]]:
    found = book.ledger.positions(exchange.trading_day)
    rows_ = [rows.position_row(_broker(values), book.userid, row, exchange.trading_day) for row in found]
    return _filtered(values, rows_, ("InstrumentID", "ExchangeID"))


def _details(exchange: SimExchange, book: AccountBook, values: dict[str, Any]) -> list[dict[str, Any]]:
    found = [rows.detail_row(_broker(values), book.userid, row, exchange.trading_day) for row in book.ledger.details()]
    return _filtered(values, found, ("InstrumentID", "ExchangeID"))


def _orders(exchange: SimExchange, book: AccountBook, values: dict[str, Any]) -> list[dict[str, Any]]:
    found = [dict(order.fields) for order in book.orders.values()]
    found = _filtered(values, found, ("InstrumentID", "ExchangeID", "OrderSysID"))
    start, end = values.get("InsertTimeStart", ""), values.get("InsertTimeEnd", "")
    return [row for row in found if (not start or row["InsertTime"] >= start) and (not end or row["InsertTime"] <= end)]


def _trades(exchange: SimExchange, book: AccountBook, values: dict[str, Any]) -> list[dict[str, Any]]:
    found = _filtered(values, [dict(trade) for trade in book.trades], ("InstrumentID", "ExchangeID", "TradeID"))
    start, end = values.get("TradeTimeStart", ""), values.get("TradeTimeEnd", "")
    return [row for row in found if (not start or row["TradeTime"] >= start) and (not end or row["TradeTime"] <= end)]


def _depth(exchange: SimExchange, book: AccountBook, values: dict[str, Any]) -> list[dict[str, Any]]:
    now = exchange.now()
    found = []
    for spec in _specs(exchange, values):
        quote = exchange.live_quote(spec.symbol)
        found.append(rows.depth_row(quote, _closed_moment(exchange, quote, now) or now, exchange.trading_day, True))
    return found


def _confirm(exchange: SimExchange, book: AccountBook, values: dict[str, Any]) -> list[dict[str, Any]]:
    if not book.confirmed_day:
        return []
    return [{"BrokerID": _broker(values), "InvestorID": book.userid, "ConfirmDate": book.confirmed_day,
             "ConfirmTime": "08:00:00", "SettlementID": 1, "AccountID": book.userid, "CurrencyID": "CNY"}]  # fmt: skip


def _max_volume(exchange: SimExchange, book: AccountBook, values: dict[str, Any]) -> list[dict[str, Any]]:
    spec = exchange.specs.get(values.get("InstrumentID", ""))
    if spec is None:
        return []
    quote = exchange.market.quotes[spec.symbol]
    direction = values.get("Direction") or wire.D_BUY
    offset = values.get("OffsetFlag") or wire.OF_OPEN
    price = quote.upper_limit if direction == wire.D_BUY else quote.lower_limit
    low, high = 0, spec.max_limit_volume
    while low < high:  # the largest volume the counter's own checks would accept
        middle = (low + high + 1) // 2
        if book.ledger.check_order(spec, direction, offset, price, middle) == 0:
            low = middle
        else:
            high = middle - 1
    return [dict(values, MaxVolume=low)]


def _products(exchange: SimExchange, book: AccountBook, values: dict[str, Any]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for spec in exchange.specs.values():
        if (values.get("ProductID") and spec.product != values["ProductID"]) or spec.product in seen:
            continue
        seen[spec.product] = {"ProductID": spec.product, "ProductName": spec.name.rstrip("0123456789"),
                              "ExchangeID": spec.exchange, "ProductClass": spec.product_class,
                              "VolumeMultiple": spec.size, "PriceTick": spec.price_tick,
                              "MaxMarketOrderVolume": spec.max_market_volume,
                              "MinMarketOrderVolume": spec.min_market_volume,
                              "MaxLimitOrderVolume": spec.max_limit_volume,
                              "MinLimitOrderVolume": spec.min_limit_volume,
                              "PositionType": wire.CONSTANTS["THOST_FTDC_PT_Gross"],
                              "PositionDateType": _position_date_type(spec),
                              "CloseDealType": wire.CONSTANTS["THOST_FTDC_CDT_Normal"],
                              "TradeCurrencyID": "CNY", "ExchangeProductID": spec.product}  # fmt: skip
    return list(seen.values())


def _position_date_type(spec: Any) -> str:
    return wire.PDT_USE_HISTORY if spec.splits_today else wire.PDT_NO_USE_HISTORY


def _option_cost(exchange: SimExchange, book: AccountBook, values: dict[str, Any]) -> list[dict[str, Any]]:
    answer = []
    for spec in _specs(exchange, values):
        if spec.is_option:
            quote = exchange.market.quotes[spec.symbol]
            margin = quote.reference_price() * spec.size * spec.short_margin_ratio
            answer.append({"BrokerID": _broker(values), "InvestorID": book.userid, "InstrumentID": spec.symbol,
                           "ExchangeID": spec.exchange, "HedgeFlag": wire.HF_SPECULATION,
                           "FixedMargin": margin, "ExchFixedMargin": margin})  # fmt: skip
    return answer


def _option_comm(exchange: SimExchange, book: AccountBook, values: dict[str, Any]) -> list[dict[str, Any]]:
    answer = []
    for spec in _specs(exchange, values):
        if spec.is_option:
            row = rows.commission_row(_broker(values), book.userid, spec)
            row.update(StrikeRatioByMoney=0.0, StrikeRatioByVolume=spec.fees.open_by_volume)
            answer.append(row)
    return answer


QUERIES: dict[str, tuple[str, str, RowBuilder]] = {
    "ReqQrySettlementInfoConfirm": ("OnRspQrySettlementInfoConfirm", "CThostFtdcSettlementInfoConfirmField", _confirm),
    "ReqQryInstrument": ("OnRspQryInstrument", "CThostFtdcInstrumentField",
                         lambda ex, book, v: [rows.instrument_row(s) for s in _specs(ex, v)]),
    "ReqQryExchange": ("OnRspQryExchange", "CThostFtdcExchangeField", lambda ex, book, v: [
        {"ExchangeID": code, "ExchangeName": name, "ExchangeProperty": wire.CONSTANTS["THOST_FTDC_EXP_Normal"]}
        for code, name in rows.EXCHANGE_NAMES.items() if not v.get("ExchangeID") or v["ExchangeID"] == code]),
    "ReqQryProduct": ("OnRspQryProduct", "CThostFtdcProductField", _products),
    "ReqQryDepthMarketData": ("OnRspQryDepthMarketData", "CThostFtdcDepthMarketDataField", _depth),
    "ReqQryTradingAccount": ("OnRspQryTradingAccount", "CThostFtdcTradingAccountField", lambda ex, book, v: [
        rows.account_row(_broker(v), book.ledger.account(), ex.trading_day)]),
    "ReqQryInvestor": ("OnRspQryInvestor", "CThostFtdcInvestorField", lambda ex, book, v: [
        {"InvestorID": book.userid, "BrokerID": _broker(v), "InvestorName": f"模拟账户{book.userid}",
         "IdentifiedCardType": wire.CONSTANTS["THOST_FTDC_ICT_IDCard"], "IsActive": 1,
         "OpenDate": "20240101", "CommModelID": "sim", "MarginModelID": "sim"}]),
    "ReqQryTradingCode": ("OnRspQryTradingCode", "CThostFtdcTradingCodeField", lambda ex, book, v: [
        {"InvestorID": book.userid, "BrokerID": _broker(v), "ExchangeID": code, "ClientID": book.userid,
         "IsActive": 1, "ClientIDType": wire.CONSTANTS["THOST_FTDC_CIDT_Speculation"]}
        for code in rows.EXCHANGE_NAMES if not v.get("ExchangeID") or v["ExchangeID"] == code]),
    "ReqQryInvestorPosition": ("OnRspQryInvestorPosition", "CThostFtdcInvestorPositionField", _positions),
    "ReqQryInvestorPositionDetail": ("OnRspQryInvestorPositionDetail",
                                     "CThostFtdcInvestorPositionDetailField", _details),
    "ReqQryOrder": ("OnRspQryOrder", "CThostFtdcOrderField", _orders),
    "ReqQryTrade": ("OnRspQryTrade", "CThostFtdcTradeField", _trades),
    "ReqQryInstrumentMarginRate": ("OnRspQryInstrumentMarginRate", "CThostFtdcInstrumentMarginRateField",
        lambda ex, book, v: [rows.margin_rate_row(_broker(v), book.userid, s, False) for s in _specs(ex, v)]),
    "ReqQryExchangeMarginRate": ("OnRspQryExchangeMarginRate", "CThostFtdcExchangeMarginRateField",
        lambda ex, book, v: [rows.margin_rate_row(_broker(v), book.userid, s, True) for s in _specs(ex, v)]),
    "ReqQryInstrumentCommissionRate": ("OnRspQryInstrumentCommissionRate", "CThostFtdcInstrumentCommissionRateField",
        lambda ex, book, v: [rows.commission_row(_broker(v), book.userid, s)
                             for s in _specs(ex, v) if not s.is_option]),
    "ReqQryInstrumentOrderCommRate": ("OnRspQryInstrumentOrderCommRate", "CThostFtdcInstrumentOrderCommRateField",
        lambda ex, book, v: [{"InstrumentID": s.symbol, "ExchangeID": s.exchange, "BrokerID": _broker(v),
                              "InvestorID": book.userid, "HedgeFlag": wire.HF_SPECULATION,
                              "OrderCommByVolume": 0.0, "OrderActionCommByVolume": 0.0}
                             for s in _specs(ex, v) if not s.is_option]),
    "ReqQryOptionInstrTradeCost": ("OnRspQryOptionInstrTradeCost", "CThostFtdcOptionInstrTradeCostField", _option_cost),
    "ReqQryOptionInstrCommRate": ("OnRspQryOptionInstrCommRate", "CThostFtdcOptionInstrCommRateField", _option_comm),
    "ReqQryMaxOrderVolume": ("OnRspQryMaxOrderVolume", "CThostFtdcQryMaxOrderVolumeField", _max_volume),
}  # fmt: skip

TRADER_HANDLERS: dict[str, Handler] = {
    "ReqAuthenticate": authenticate,
    "ReqUserLogin": user_login,
    "ReqUserLogout": user_logout,
    "ReqSettlementInfoConfirm": settlement_confirm,
    "ReqUserPasswordUpdate": password_update,
    "ReqOrderInsert": order_insert,
    "ReqOrderAction": order_action,
    **{name: query(callback, struct, build) for name, (callback, struct, build) in QUERIES.items()},
}


# --- market data ----------------------------------------------------------------------------------
def subscribe(exchange: SimExchange, link: Link, symbols: list[str], subscribe_on: bool) -> int:
    if not link.logged_in:
        return -1
    callback = "OnRspSubMarketData" if subscribe_on else "OnRspUnSubMarketData"
    for index, symbol in enumerate(symbols):
        link.respond(callback, "CThostFtdcSpecificInstrumentField", {"InstrumentID": symbol}, OK, 0,
                     index == len(symbols) - 1)  # fmt: skip
        if subscribe_on:
            shown = exchange.live_quote(symbol)  # before subscribing: the catch-up's own tick is not pushed twice
            link.subscriptions.add(symbol)
            exchange.subscribers.setdefault(symbol, set()).add(link)
            _push_snapshot(exchange, link, shown)
        else:
            link.subscriptions.discard(symbol)
            subscribers = exchange.subscribers.get(symbol)
            if subscribers is not None:
                subscribers.discard(link)
                if not subscribers:
                    del exchange.subscribers[symbol]
    exchange.mark_active_dirty()
    return 0


def _push_snapshot(exchange: SimExchange, link: Link, quote: Any) -> None:
    """A front pushes the latest snapshot on subscribe; outside hours it is the last session's."""
    if quote is None or not quote.traded:
        return
    stamp = _closed_moment(exchange, quote, exchange.now()) or quote.updated or exchange.now()
    row = rows.depth_row(quote, stamp, exchange.trading_day, exchange.settings.tick_exchange_id)
    link.post("OnRtnDepthMarketData", link.make("CThostFtdcDepthMarketDataField", row))


def _closed_moment(exchange: SimExchange, quote: Any, now: datetime) -> datetime | None:
    """Outside its trading hours (sessions mode), when the snapshot shown was taken; None in them.

    That is the last snapshot's own moment when it lies in a session (the walk through the last
    session), else the last session's end (a price set while closed, figures taken back after a restart).
    """
    spec = quote.spec
    if exchange.settings.mode != "sessions" or in_session(spec, now):
        return None
    updated = quote.updated
    if updated is not None and updated <= now and in_session(spec, updated):
        return updated
    return last_session_end_before(spec, now)
