"""Positions of the simulated account: lots (CTP "details"), the close rules, and the rows CTP reports.

Pure data and small functions. The ledger (ledger.py) owns the money and the pending orders and
calls into here; nothing in this module knows about threads, I/O or CTP structs.

A position is kept as lots: every opening fill is one `Lot`. A lot is either *today's* (opened in
the current trading day) or *yesterday's*; settlement turns every lot into yesterday's. Keeping lots
rather than one aggregate per side is what lets the counter answer SHFE/INE's split position rows,
charge close-today fees on the right volume and margin each lot at its own basis.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from operator import attrgetter

from backend.sim.instruments import TODAY_YESTERDAY_EXCHANGES, FeeRates, InstrumentSpec
from lib.close_split import TODAY, YESTERDAY

# Order side (CTP Direction).
BUY, SELL = "0", "1"
# Position side (CTP PosiDirection).
LONG, SHORT = "2", "3"
# CombOffsetFlag, first character.
OPEN, CLOSE, CLOSE_TODAY, CLOSE_YESTERDAY = "0", "1", "3", "4"
CLOSE_OFFSETS = frozenset({CLOSE, CLOSE_TODAY, CLOSE_YESTERDAY})
# PositionDate of a position row.
DATE_TODAY, DATE_HISTORY = "1", "2"

# Lot groups (TODAY, YESTERDAY): lib/close_split.py's, the names the live split and the lab use too.

# SHFE/INE: every close offset may touch one group only; '1' Close means yesterday's lots there.
SPLIT_CLOSE_GROUPS: dict[str, tuple[str, ...]] = {
    CLOSE_TODAY: (TODAY,),
    CLOSE: (YESTERDAY,),
    CLOSE_YESTERDAY: (YESTERDAY,),
}
# SHFE/INE: the ErrorID when a close asks for more than its group can give.
SPLIT_SHORT_ERRORS: dict[str, int] = {CLOSE_TODAY: 50, CLOSE_YESTERDAY: 51, CLOSE: 30}
# Elsewhere '1', '3' and '4' all close the single position, consuming the groups in this order.
# Which lots a plain Close takes there is disputed between sources (CTP.md section 4), so it is a
# setting: put an exchange in CLOSE_ORDER_BY_EXCHANGE to override the default for it. The order
# matters for fees (close-today rates on today's lots), close profit (basis) and margin released.
DEFAULT_CLOSE_ORDER: tuple[str, ...] = (YESTERDAY, TODAY)
CLOSE_ORDER_BY_EXCHANGE: dict[str, tuple[str, ...]] = {}
# ErrorID of a close over the closable volume outside SHFE/INE.
CLOSE_SHORT_ERROR = 30


def close_groups(exchange: str, offset: str) -> tuple[str, ...]:
    """Lot groups a close with `offset` may consume on `exchange`, in consumption order."""
    if exchange in TODAY_YESTERDAY_EXCHANGES:
        return SPLIT_CLOSE_GROUPS[offset]
    return CLOSE_ORDER_BY_EXCHANGE.get(exchange, DEFAULT_CLOSE_ORDER)


def position_side(direction: str, offset: str) -> str:
    """PosiDirection an order acts on: an opening buy adds to the long, a closing buy reduces the short."""
    buying = direction == BUY
    if offset == OPEN:
        return LONG if buying else SHORT
    return SHORT if buying else LONG


def side_sign(posi_direction: str) -> int:
    """+1 for a long, -1 for a short: the sign of price moves in the position's profit."""
    return 1 if posi_direction == LONG else -1


# Each leg's (by-money, by-volume) rates of a FeeRates: one C call per fee (every order and fill asks one)
_LEG_RATES = {leg: attrgetter(f"{leg}_by_money", f"{leg}_by_volume") for leg in ("open", "close", "close_today")}


def fee(rates: FeeRates, leg: str, price: float, volume: int, size: int) -> float:
    """Commission of one leg ('open', 'close', 'close_today'): turnover × by-money + lots × by-volume."""
    by_money, by_volume = _LEG_RATES[leg](rates)
    return price * volume * size * by_money + volume * by_volume


def close_leg(group: str) -> str:
    """Close-today rates apply to today's lots on every exchange, whatever the order's offset."""
    return "close_today" if group == TODAY else "close"


@dataclass(frozen=True)
class Contract:
    """What the ledger keeps of an InstrumentSpec: enough to margin and value lots after a restart."""

    symbol: str
    exchange: str
    size: int
    long_margin_ratio: float
    short_margin_ratio: float

    @classmethod
    def from_spec(cls, spec: InstrumentSpec) -> Contract:
        return cls(spec.symbol, spec.exchange, spec.size, spec.long_margin_ratio, spec.short_margin_ratio)

    def margin_ratio(self, posi_direction: str) -> float:
        return self.long_margin_ratio if posi_direction == LONG else self.short_margin_ratio

    @property
    def splits_today(self) -> bool:
        return self.exchange in TODAY_YESTERDAY_EXCHANGES


@dataclass
class Lot:
    """One opening fill still (partly) held. `basis` is the open price today, then each settlement."""

    symbol: str
    posi_direction: str
    open_date: str  # trading day of the opening fill, YYYYMMDD; never changes
    open_price: float
    volume: int
    basis: float
    today: bool  # opened in the current trading day; cleared by settlement
    trade_id: str = ""

    @property
    def group(self) -> str:
        return TODAY if self.today else YESTERDAY

    def margin(self, contract: Contract) -> float:
        return self.basis * self.volume * contract.size * contract.margin_ratio(self.posi_direction)

    def profit(self, contract: Contract, last: float | None, reference: float | None = None) -> float:
        """Mark-to-market profit against `reference` (default: the basis); 0 without a price."""
        if last is None:
            return 0.0
        ref = self.basis if reference is None else reference
        return (last - ref) * self.volume * contract.size * side_sign(self.posi_direction)


@dataclass
class PendingOrder:
    """What one pending order holds frozen. Amounts are per lot × lots left, never running totals,
    so a fully filled or released order leaves exactly zero behind."""

    symbol: str
    direction: str
    offset: str
    posi_direction: str
    volume: int  # lots still frozen
    margin_per_lot: float = 0.0  # open orders
    open_fee_per_lot: float = 0.0  # open orders
    reserved: dict[str, int] = field(default_factory=dict)  # close orders: lots per group, in order
    close_fee_per_lot: dict[str, float] = field(default_factory=dict)  # close orders, per group

    @property
    def frozen_margin(self) -> float:
        return self.volume * self.margin_per_lot

    @property
    def frozen_commission(self) -> float:
        closing = sum(n * self.close_fee_per_lot[g] for g, n in self.reserved.items())
        return self.volume * self.open_fee_per_lot + closing

    def unfreeze(self, volume: int) -> None:
        """Drop `volume` lots; a close gives back its reservations in consumption order."""
        self.volume -= volume
        for group in self.reserved:
            take = min(volume, self.reserved[group])
            self.reserved[group] -= take
            volume -= take


@dataclass
class Activity:
    """Today's trading of one (symbol, side, group): the counters CTP puts on a position row."""

    open_volume: int = 0
    close_volume: int = 0
    open_amount: float = 0.0
    close_amount: float = 0.0
    commission: float = 0.0
    close_profit: float = 0.0

    def merged(self, other: Activity | None) -> Activity:
        if other is None:
            return self
        return Activity(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


@dataclass(frozen=True)
class PositionRow:
    """One row of the position query (CThostFtdcInvestorPositionField's fields that matter)."""

    trading_day: str
    symbol: str
    exchange: str
    posi_direction: str  # '2' long, '3' short
    position_date: str  # '1' today (or the whole position off SHFE/INE), '2' history
    position: int
    yd_position: int  # start-of-day snapshot; never decreases during the day
    today_position: int
    long_frozen: int  # volume frozen by pending closing buys (i.e. on a short row)
    short_frozen: int  # volume frozen by pending closing sells (i.e. on a long row)
    open_volume: int
    close_volume: int
    open_amount: float
    close_amount: float
    position_cost: float  # sum of basis x volume x size
    open_cost: float  # sum of open price x volume x size
    use_margin: float
    commission: float
    close_profit: float
    position_profit: float
    settlement_price: float  # the previous settlement (the basis of yesterday's lots)
    pre_settlement_price: float  # same value: the sim has no intraday settlement price


@dataclass(frozen=True)
class DetailRow:
    """One lot as the position-detail query reports it."""

    symbol: str
    exchange: str
    direction: str  # order side of the opening: '0' long, '1' short
    open_date: str
    open_price: float
    volume: int
    basis: float  # open price if opened today, else the previous settlement
    margin: float
    position_profit: float  # by date (mark-to-market against the basis)
    position_profit_by_trade: float  # against the open price
    today: bool
    trade_id: str


RowKey = tuple[str, str]  # (symbol, posi_direction)
GroupKey = tuple[str, str, str]  # (symbol, posi_direction, group)


def _row(
    contract: Contract,
    posi: str,
    date: str,
    lots: list[Lot],
    act: Activity,
    counts: tuple[int, int, int],
    prices: tuple[float | None, float, str],
) -> PositionRow:
    yd_position, today_position, frozen = counts
    last, pre_settle, trading_day = prices
    size = contract.size
    return PositionRow(
        trading_day=trading_day,
        symbol=contract.symbol,
        exchange=contract.exchange,
        posi_direction=posi,
        position_date=date,
        position=sum(lot.volume for lot in lots),
        yd_position=yd_position,
        today_position=today_position,
        long_frozen=frozen if posi == SHORT else 0,
        short_frozen=frozen if posi == LONG else 0,
        open_volume=act.open_volume,
        close_volume=act.close_volume,
        open_amount=act.open_amount,
        close_amount=act.close_amount,
        # sums start at 0.0: a closed position (no lots) reports floats, as the binding's doubles read
        position_cost=sum((lot.basis * lot.volume * size for lot in lots), 0.0),
        open_cost=sum((lot.open_price * lot.volume * size for lot in lots), 0.0),
        use_margin=sum((lot.margin(contract) for lot in lots), 0.0),
        commission=act.commission,
        close_profit=act.close_profit,
        position_profit=sum((lot.profit(contract, last) for lot in lots), 0.0),
        settlement_price=pre_settle,
        pre_settlement_price=pre_settle,
    )


def build_rows(
    trading_day: str,
    contracts: Mapping[str, Contract],
    lots: Mapping[RowKey, list[Lot]],
    activity: Mapping[GroupKey, Activity],
    reserved: Mapping[GroupKey, int],
    yd_snapshot: Mapping[RowKey, int],
    marks: Mapping[str, float],
    pre_settlement: Mapping[str, float],
) -> list[PositionRow]:
    """Position rows as CTP reports them: split by date on SHFE/INE, one row per side elsewhere.

    A row is reported while it holds lots or had fills today (CTP reports closed-out rows too).
    """
    keys = {key for key, held in lots.items() if held} | {(s, p) for (s, p, _g) in activity}
    rows: list[PositionRow] = []
    for symbol, posi in sorted(keys):
        contract = contracts[symbol]
        held = lots.get((symbol, posi), [])
        prices = (marks.get(symbol), pre_settlement.get(symbol, 0.0), trading_day)
        snapshot = yd_snapshot.get((symbol, posi), 0)
        if contract.splits_today:
            for group, date in ((TODAY, DATE_TODAY), (YESTERDAY, DATE_HISTORY)):
                part = [lot for lot in held if lot.group == group]
                act = activity.get((symbol, posi, group))
                if not part and act is None:
                    continue
                volume = sum(lot.volume for lot in part)
                counts = (
                    (0, volume, reserved.get((symbol, posi, group), 0))
                    if group == TODAY
                    else (snapshot, 0, reserved.get((symbol, posi, group), 0))
                )
                rows.append(_row(contract, posi, date, part, act or Activity(), counts, prices))
        else:
            act = Activity()
            for group in (TODAY, YESTERDAY):
                act = act.merged(activity.get((symbol, posi, group)))
            today_volume = sum(lot.volume for lot in held if lot.today)
            frozen = sum(reserved.get((symbol, posi, g), 0) for g in (TODAY, YESTERDAY))
            rows.append(_row(contract, posi, DATE_TODAY, held, act, (snapshot, today_volume, frozen), prices))
    return rows


def detail_rows(contracts: Mapping[str, Contract], lots: Iterable[Lot], marks: Mapping[str, float]) -> list[DetailRow]:
    """Every held lot, oldest first per (symbol, side)."""
    out = []
    for lot in lots:
        contract = contracts[lot.symbol]
        last = marks.get(lot.symbol)
        out.append(
            DetailRow(
                symbol=lot.symbol,
                exchange=contract.exchange,
                direction=BUY if lot.posi_direction == LONG else SELL,
                open_date=lot.open_date,
                open_price=lot.open_price,
                volume=lot.volume,
                basis=lot.basis,
                margin=lot.margin(contract),
                position_profit=lot.profit(contract, last),
                position_profit_by_trade=lot.profit(contract, last, lot.open_price),
                today=lot.today,
                trade_id=lot.trade_id,
            )
        )
    return out
