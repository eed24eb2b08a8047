"""Order entry, matching, cancels and fills of the sim, reported exactly as CTP reports them.

Called by the exchange under its lock. The callback sequences follow shared/CTP.md §3:
counter reject -> OnRspOrderInsert + OnErrRtnOrderInsert; accepted -> OnRtnOrder '0'/'a';
exchange reject -> OnRtnOrder '4'/'5'; exchange accept -> OnRtnOrder '3'/'3' with OrderSysID;
fills -> OnRtnTrade and OnRtnOrder '1' or '0' in either order; IOC remainder -> '5'.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from backend.sim import wire
from backend.sim.accounts import AccountBook, SimOrder, order_key
from backend.sim.calendar import in_session
from backend.sim.instruments import NO_FOK_EXCHANGES, NO_MARKET_ORDER_EXCHANGES, InstrumentSpec
from backend.sim.market import DBL_MAX, Quote, on_tick

if TYPE_CHECKING:
    from backend.sim.exchange import SimExchange, TraderLink

ORDER_FIELDS = wire.STRUCT_FIELDS["CThostFtdcOrderField"]
VALID_OFFSETS = frozenset({wire.OF_OPEN, wire.OF_CLOSE, wire.OF_CLOSE_TODAY, wire.OF_CLOSE_YESTERDAY})
VALID_PRICE_TYPES = frozenset({wire.OPT_ANY_PRICE, wire.OPT_LIMIT_PRICE})
VALID_TIME_CONDITIONS = frozenset({wire.TC_IOC, wire.TC_GFD})
VALID_VOLUME_CONDITIONS = frozenset({wire.VC_ANY, wire.VC_MIN, wire.VC_ALL})


class Book(Protocol):
    """What matching reads of a market snapshot: the sim's Quote, or the lab's book of a recorded tick."""

    bid_prices: Sequence[float]
    bid_volumes: Sequence[int]
    ask_prices: Sequence[float]
    ask_volumes: Sequence[int]

    @property
    def traded(self) -> bool: ...


def walk_book(quote: Book, direction: str, limit: float | None, volume: int, consume: bool) -> list:
    """Fills (price, volume) available against the displayed opposite side, best level first."""
    prices = quote.ask_prices if direction == wire.D_BUY else quote.bid_prices
    volumes = quote.ask_volumes if direction == wire.D_BUY else quote.bid_volumes
    if consume:  # the book's volumes may be shared (market.py): copy before taking volume
        volumes = list(volumes)
        if direction == wire.D_BUY:
            quote.ask_volumes = volumes
        else:
            quote.bid_volumes = volumes
    fills = []
    left = volume
    for level, price in enumerate(prices):
        if left <= 0 or price == DBL_MAX:
            break
        if limit is not None and (price > limit + 1e-9 if direction == wire.D_BUY else price < limit - 1e-9):
            break
        if volumes[level] <= 0:
            continue  # taken by an earlier order on this snapshot: the levels behind it are still there
        take = min(left, volumes[level])
        fills.append((price, take))
        left -= take
        if consume:
            volumes[level] -= take
    return fills


# The matching rules, as functions of a book: the sim's desk below and the lab's tick mode
# (backend/lab/tick_mode.py) both match by them, so a backtest fills exactly as the counter would.
def incoming_fills(book: Book, direction: str, limit: float | None, remaining: int, needed: int) -> list:
    """What an order takes from the book as it arrives: fills (price, volume) at the book's own prices, best
    level first, taken from the book; none unless `needed` lots are there and the instrument traded today."""
    available = sum(v for _, v in walk_book(book, direction, limit, remaining, consume=False))
    if available >= needed and book.traded:
        return walk_book(book, direction, limit, remaining, consume=True)
    return []


def resting_fill(book: Book, direction: str, limit_price: float, remaining: int) -> int:
    """The lots a resting limit order takes from a new snapshot that crosses it (taken from the book); they
    fill at the order's own price."""
    return sum(v for _, v in walk_book(book, direction, limit_price, remaining, consume=True))


def price_problem(price: float, price_tick: float, upper_limit: float, lower_limit: float) -> str:
    """The exchange's reason to refuse a limit price (off the tick grid, beyond the day's band), or ""."""
    if not on_tick(price, price_tick):
        return "报单价格不是最小变动价位的整数倍"
    if price > upper_limit + 1e-9:
        return "报单价格超过涨停板"
    if price < lower_limit - 1e-9:
        return "报单价格跌破跌停板"
    return ""


class OrderDesk:
    def __init__(self, exchange: SimExchange) -> None:
        self.exchange = exchange

    # --- insert -------------------------------------------------------------------------------
    def insert(self, link: TraderLink, account: AccountBook, request: dict[str, Any], request_id: int) -> None:
        exchange = self.exchange
        spec = exchange.specs.get(request.get("InstrumentID", ""))
        error, ref = self._counter_check(link, account, request, spec)
        if error:
            info = wire.error_info(error)
            link.respond("OnRspOrderInsert", "CThostFtdcInputOrderField", request, info, request_id, True)
            link.respond_error("OnErrRtnOrderInsert", "CThostFtdcInputOrderField", request, info)
            return
        assert spec is not None
        # An instrument nobody watches is walked to now first (its resting orders may fill on the way),
        # so the order meets the current book, not a stale or empty one.
        exchange.live_quote(spec.symbol)
        order = self._accept(link, account, request, request_id, spec, ref)
        reject = self._exchange_check(order, spec)
        if reject:
            self._finish(account, order, wire.OST_CANCELED, f"已撤单报单被拒绝{spec.exchange}:{reject}", rejected=True)
            return
        self._exchange_accept(account, order)
        self._match_incoming(account, order)

    def _counter_check(
        self, link: TraderLink, account: AccountBook, request: dict[str, Any], spec: InstrumentSpec | None
    ) -> tuple[int, int]:
        ref_text = str(request.get("OrderRef", "")).strip()
        if ref_text and not ref_text.isdigit():
            return 15, 0
        ref = int(ref_text) if ref_text else link.last_order_ref + 1
        if ref <= link.last_order_ref:
            return 22, 0
        link.last_order_ref = ref
        account.max_order_ref = max(account.max_order_ref, ref)
        if account.confirmed_day != self.exchange.trading_day:
            return 42, ref
        if spec is None or request.get("ExchangeID") not in ("", spec.exchange):
            return 16, ref
        if not request.get("ExchangeID"):
            return 15, ref  # ExchangeID is mandatory since CTP 6.3
        if spec.is_option:
            return 9, ref
        field_error = self._field_error(request, spec)
        if field_error:
            return field_error, ref
        offset = request["CombOffsetFlag"][:1]
        if offset == wire.OF_OPEN and (spec.symbol in self.exchange.settings.close_only or not spec.is_trading):
            return 29, ref
        price = self._freeze_price(request, spec)
        return account.ledger.check_order(
            spec, request["Direction"], offset, price, int(request["VolumeTotalOriginal"])
        ), ref

    @staticmethod
    def _field_error(request: dict[str, Any], spec: InstrumentSpec) -> int:
        volume = request.get("VolumeTotalOriginal", 0)
        ok = (
            request.get("Direction") in (wire.D_BUY, wire.D_SELL)
            and request.get("CombOffsetFlag", "")[:1] in VALID_OFFSETS
            and request.get("OrderPriceType") in VALID_PRICE_TYPES
            and request.get("TimeCondition") in VALID_TIME_CONDITIONS
            and request.get("VolumeCondition") in VALID_VOLUME_CONDITIONS
            and isinstance(volume, int)
            and volume > 0
            and (request.get("OrderPriceType") == wire.OPT_ANY_PRICE or request.get("LimitPrice", 0) > 0)
        )
        return 0 if ok else 15

    def _freeze_price(self, request: dict[str, Any], spec: InstrumentSpec) -> float:
        if request.get("OrderPriceType") != wire.OPT_ANY_PRICE:
            return float(request["LimitPrice"])
        quote = self.exchange.market.quotes[spec.symbol]
        return quote.upper_limit if request["Direction"] == wire.D_BUY else quote.lower_limit

    def _accept(
        self,
        link: TraderLink,
        account: AccountBook,
        request: dict[str, Any],
        request_id: int,
        spec: InstrumentSpec,
        ref: int,
    ) -> SimOrder:
        exchange = self.exchange
        day, clock = exchange.stamp()
        fields = {name: value for name, value in request.items() if name in ORDER_FIELDS}
        fields.update(
            BrokerID=link.broker_id,
            InvestorID=account.userid,
            UserID=request.get("UserID") or account.userid,
            OrderRef=wire.right_aligned(ref),
            RequestID=request_id,
            OrderLocalID=wire.right_aligned(exchange.next_id("local")),
            ExchangeID=spec.exchange,
            ExchangeInstID=spec.symbol,
            ParticipantID="9999",
            ClientID=account.userid,
            TraderID=f"{spec.exchange.lower()}sim01",
            InstallID=1,
            OrderSubmitStatus=wire.OSS_INSERT_SUBMITTED,
            TradingDay=exchange.trading_day,
            SettlementID=1,
            OrderSysID="",
            OrderSource=wire.ORDER_SOURCE_PARTICIPANT,
            OrderStatus=wire.OST_UNKNOWN,
            OrderType=wire.ORDER_TYPE_NORMAL,
            VolumeTraded=0,
            VolumeTotal=int(request["VolumeTotalOriginal"]),
            InsertDate=day,
            InsertTime=clock,
            UpdateTime=clock,
            FrontID=link.front_id,
            SessionID=link.session_id,
            UserProductInfo=link.product_info,
            StatusMsg="报单已提交",
            BrokerOrderSeq=exchange.next_id("broker_seq"),
            CurrencyID="CNY",
        )
        key = order_key(link.front_id, link.session_id, ref)
        offset = fields["CombOffsetFlag"][:1]
        account.ledger.freeze(
            key, spec, fields["Direction"], offset, self._freeze_price(request, spec), fields["VolumeTotal"]
        )
        exchange.push_private(account, "order", fields, spec)
        return account.orders[key]

    def _exchange_check(self, order: SimOrder, spec: InstrumentSpec) -> str:
        fields = order.fields
        quote = self.exchange.market.quotes[spec.symbol]
        if self.exchange.settings.mode == "sessions" and not in_session(spec, self.exchange.now()):
            return "非交易时间报单"
        if order.is_market:
            if spec.exchange in NO_MARKET_ORDER_EXCHANGES:
                return "不支持市价单"
            return ""
        if fields["VolumeCondition"] == wire.VC_ALL and spec.exchange in NO_FOK_EXCHANGES:
            return "不支持FOK指令"
        problem = price_problem(order.limit_price, spec.price_tick, quote.upper_limit, quote.lower_limit)
        if problem:
            return problem
        volume = int(fields["VolumeTotalOriginal"])
        if not spec.min_limit_volume <= volume <= spec.max_limit_volume:
            return "报单数量超过限价单最大下单量"
        return ""

    def _exchange_accept(self, account: AccountBook, order: SimOrder) -> None:
        exchange = self.exchange
        sys_id = wire.right_aligned(exchange.next_id("sys"))
        fields = dict(order.fields)
        fields.update(
            OrderSysID=sys_id,
            OrderSubmitStatus=wire.OSS_ACCEPTED,
            OrderStatus=wire.OST_NO_TRADE_QUEUEING,
            StatusMsg="未成交",
            SequenceNo=exchange.next_id("sequence"),
            UpdateTime=exchange.stamp()[1],
        )
        exchange.push_private(account, "order", fields)

    # --- matching -----------------------------------------------------------------------------
    def _match_incoming(self, account: AccountBook, order: SimOrder) -> None:
        quote = self.exchange.market.quotes[order.spec.symbol]
        fields = order.fields
        ioc = fields["TimeCondition"] == wire.TC_IOC
        limit = None if order.is_market else order.limit_price
        if order.is_market and not ioc:
            # A market order sent as GFD is cancelled at once by the exchange.
            self._finish(account, order, wire.OST_CANCELED, "已撤单")
            return
        needed = {wire.VC_ALL: order.remaining, wire.VC_MIN: int(fields.get("MinVolume") or 1)}.get(
            fields["VolumeCondition"], 1
        )
        for price, volume in incoming_fills(quote, order.direction, limit, order.remaining, needed):
            self._fill(account, order, price, volume)
        if ioc and order.active:
            self._finish(account, order, wire.OST_CANCELED, "已撤单")

    def match_resting(self, quote: Quote) -> None:
        """A new snapshot: resting limit orders the book now crosses fill at their own price."""
        for account in self.exchange.accounts.values():
            for order in account.active_orders(quote.spec.symbol):
                if order.fields["OrderSubmitStatus"] != wire.OSS_ACCEPTED:
                    continue
                volume = resting_fill(quote, order.direction, order.limit_price, order.remaining)
                if volume:
                    self._fill(account, order, order.limit_price, volume)

    def _fill(self, account: AccountBook, order: SimOrder, price: float, volume: int) -> None:
        exchange = self.exchange
        stamp = exchange.stamp()
        trade_id = wire.right_aligned(exchange.next_id("trade"))
        fields = order.fields
        offset = order.offset
        account.ledger.fill(
            order.key, order.spec, order.direction, offset, price, volume, exchange.trading_day, trade_id.strip()
        )
        trade = self._trade_fields(account, order, trade_id, price, volume, stamp)
        updated = dict(fields)
        traded = int(fields["VolumeTraded"]) + volume
        remaining = int(fields["VolumeTotal"]) - volume
        done = remaining == 0
        updated.update(
            VolumeTraded=traded,
            VolumeTotal=remaining,
            OrderStatus=wire.OST_ALL_TRADED if done else wire.OST_PART_TRADED_QUEUEING,
            StatusMsg="全部成交" if done else "部分成交",
            UpdateTime=stamp[1],
            SequenceNo=exchange.next_id("sequence"),
        )
        messages = [("order", updated), ("trade", trade)]
        if exchange.rng.random() < exchange.settings.trade_before_order:
            messages.reverse()
        for kind, values in messages:
            exchange.push_private(account, kind, values)
        exchange.journal_ledger(account)

    def _trade_fields(
        self, account: AccountBook, order: SimOrder, trade_id: str, price: float, volume: int, stamp: tuple[str, str]
    ) -> dict[str, Any]:
        fields = order.fields
        return {
            "BrokerID": fields["BrokerID"],
            "InvestorID": account.userid,
            "OrderRef": fields["OrderRef"],
            "UserID": fields["UserID"],
            "ExchangeID": fields["ExchangeID"],
            "TradeID": trade_id,
            "Direction": fields["Direction"],
            "OrderSysID": fields["OrderSysID"],
            "ParticipantID": fields["ParticipantID"],
            "ClientID": fields["ClientID"],
            "TradingRole": wire.TRADING_ROLE_BROKER,
            "OffsetFlag": order.offset,
            "HedgeFlag": fields["CombHedgeFlag"][:1] or wire.HF_SPECULATION,
            "Price": price,
            "Volume": volume,
            "TradeDate": stamp[0],
            "TradeTime": stamp[1],
            "TradeType": wire.TRADE_TYPE_COMMON,
            "PriceSource": wire.PSRC_LAST_PRICE,
            "TraderID": fields["TraderID"],
            "OrderLocalID": fields["OrderLocalID"],
            "SequenceNo": self.exchange.next_id("sequence"),
            "TradingDay": self.exchange.trading_day,
            "SettlementID": 1,
            "BrokerOrderSeq": fields["BrokerOrderSeq"],
            "TradeSource": wire.TSRC_NORMAL,
            "InstrumentID": fields["InstrumentID"],
            "ExchangeInstID": fields["ExchangeInstID"],
        }

    def _finish(self, account: AccountBook, order: SimOrder, status: str, message: str, rejected: bool = False) -> None:
        """End an order without (further) fills: cancel, IOC remainder or exchange reject."""
        exchange = self.exchange
        account.ledger.release(order.key)
        now = exchange.stamp()[1]
        updated = dict(order.fields)
        updated.update(OrderStatus=status, StatusMsg=message, UpdateTime=now, SequenceNo=exchange.next_id("sequence"))
        if rejected:
            updated["OrderSubmitStatus"] = wire.OSS_INSERT_REJECTED
        else:
            updated["CancelTime"] = now
        exchange.push_private(account, "order", updated)

    # --- cancel -------------------------------------------------------------------------------
    def cancel(self, link: TraderLink, account: AccountBook, request: dict[str, Any], request_id: int) -> None:
        order = self._find(account, request)
        error = 25 if order is None else (0 if order.active else 26)
        if error:
            info = wire.error_info(error)
            link.respond("OnRspOrderAction", "CThostFtdcInputOrderActionField", request, info, request_id, True)
            action = dict(request, ActionDate=self.exchange.now().strftime("%Y%m%d"), StatusMsg=info["ErrorMsg"])
            link.respond_error("OnErrRtnOrderAction", "CThostFtdcOrderActionField", action, info)
            return
        assert order is not None
        self._finish(account, order, wire.OST_CANCELED, "已撤单")

    @staticmethod
    def _find(account: AccountBook, request: dict[str, Any]) -> SimOrder | None:
        sys_id = str(request.get("OrderSysID", "")).strip()
        if sys_id:
            key = account.by_sys_id.get((request.get("ExchangeID", ""), sys_id))
            return account.orders.get(key) if key else None
        ref = str(request.get("OrderRef", "")).strip()
        if not ref.isdigit():
            return None
        return account.orders.get(order_key(request.get("FrontID", 0), request.get("SessionID", 0), ref))

    def cancel_day_orders(self) -> None:
        """Settlement: every order still working is cancelled."""
        for account in self.exchange.accounts.values():
            for order in account.active_orders():
                self._finish(account, order, wire.OST_CANCELED, "已撤单")
