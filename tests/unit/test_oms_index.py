"""The OMS's index of working orders (oms.py) and what is read through it: the risk check's view of
the book and one position with its frozen lots, against the same figures counted the long way over
every order and position of the day.

The index keeps an order's checks to its contract's and its product's book (bench/risk.py: the risk
check took a millisecond with a few hundred working orders, and so did finding the position a close
order takes from); these say it answers what the long way does after any sequence of order updates,
stale and finished ones included, and a new trading day.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from backend.engine.constants import Direction, Exchange, Offset, OrderType, Product, Status
from backend.engine.objects import ContractData, OrderData, OrderRequest, PositionData
from backend.engine.oms import Oms
from backend.engine.risk_engine import RiskEngine
from backend.engine.risk_rules import RiskLimits

LONG, SHORT = Direction.LONG, Direction.SHORT
CONTRACTS = (
    ContractData("rb2601", Exchange.SHFE, "rb2601", Product.FUTURES, 10, 1.0, product_id="rb"),
    ContractData("rb2605", Exchange.SHFE, "rb2605", Product.FUTURES, 10, 1.0, product_id="rb"),
    ContractData("hc2601", Exchange.SHFE, "hc2601", Product.FUTURES, 10, 1.0, product_id="hc"),
    ContractData("m2605", Exchange.DCE, "m2605", Product.FUTURES, 10, 1.0),  # no product id: from the symbol
    ContractData("m2609", Exchange.DCE, "m2609", Product.FUTURES, 10, 1.0),
)
NAMES = [c.local_symbol for c in CONTRACTS]


class Values:
    def get_value(self, key: str) -> str:
        raise LookupError(key)

    def set_value(self, key: str, value: str) -> None:
        return None


def product_key(contract: ContractData) -> str:
    return f"{contract.exchange.value}.{contract.product_id or contract.symbol.rstrip('0123456789')}"


def held_the_long_way(oms: Oms, matches: Callable[[str], bool]) -> dict[Direction, int]:
    held = {LONG: 0, SHORT: 0}
    for (name, side), position in oms.positions.items():
        if matches(name):
            held[side] += position.volume
    for order in oms.orders.values():
        if order.is_active and order.offset is Offset.OPEN and matches(order.local_symbol):
            held[order.direction] += order.volume - order.traded
    return held


updates = st.lists(st.tuples(
    st.integers(0, 7),  # which order
    st.integers(0, len(CONTRACTS) - 1),
    st.sampled_from([LONG, SHORT]),
    st.sampled_from([Offset.OPEN, Offset.CLOSE]),
    st.sampled_from(list(Status)),
    st.integers(1, 5),  # volume
    st.integers(0, 5),  # traded (cut to the volume)
    st.sampled_from([3000.0, 3001.0, 3002.0]),
    st.booleans(),  # a new trading day first
), max_size=40)  # fmt: skip
books = st.dictionaries(st.tuples(st.sampled_from(NAMES), st.sampled_from([LONG, SHORT])), st.integers(0, 9),
                        max_size=10)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(updates, books, st.integers(0, len(CONTRACTS) - 1), st.sampled_from([LONG, SHORT]),
       st.sampled_from([3000.0, 3001.0, 3002.0]))  # fmt: skip
def test_the_index_answers_what_the_long_way_does(steps, book, which, direction, price) -> None:
    oms = Oms()
    oms.load_contracts(CONTRACTS)
    for order_no, index, side, offset, status, volume, traded, order_price, new_day in steps:
        if new_day and order_no == 0:
            oms.start_day()
        contract = CONTRACTS[index]
        known = oms.orders.get(f"1_1_{order_no}")
        if known is not None:  # an update of a known order keeps what it was
            contract, side, offset = oms.contract(known.local_symbol), known.direction, known.offset
            volume = known.volume
        oms.on_order(OrderData(f"1_1_{order_no}", contract.symbol, contract.exchange, side, offset, OrderType.LIMIT,
                               order_price, volume, min(traded, volume), status))  # fmt: skip
    oms.positions = {(name, side): PositionData(name.split(".")[0], Exchange(name.split(".")[1]), side, volume)
                     for (name, side), volume in book.items()}  # fmt: skip

    active = [order for order in oms.orders.values() if order.is_active]
    assert oms.active_orders() == active
    assert oms.working_count() == len(active)
    for name in NAMES:
        assert oms.working_on(name) == [order for order in active if order.local_symbol == name]

    listed = {(position.local_symbol, position.direction): position for position in oms.position_list()}
    for name in NAMES:
        for side in (LONG, SHORT):
            flat = PositionData(oms.contract(name).symbol, oms.contract(name).exchange, side)
            assert oms.position(name, side) == listed.get((name, side), flat)

    contract = CONTRACTS[which]
    request = OrderRequest(contract.symbol, contract.exchange, direction, Offset.OPEN, OrderType.LIMIT, price, 1)
    check = RiskEngine(RiskLimits(), Values(), lambda payload: None)._order_check(request, contract, oms)
    product = product_key(contract)
    assert check.product == product
    assert check.working_orders == len(active)
    assert check.held == held_the_long_way(oms, lambda name: name == contract.local_symbol)
    assert check.product_held == held_the_long_way(
        oms, lambda name: name in oms.contracts and product_key(oms.contracts[name]) == product)
    crossing = [order.order_id for order in active
                if order.local_symbol == contract.local_symbol and order.direction is not direction
                and (price >= order.price if direction is LONG else price <= order.price)]  # fmt: skip
    assert list(check.crossing_own) == crossing


def test_the_products_follow_new_contracts() -> None:
    oms = Oms()
    oms.load_contracts(CONTRACTS[:1])
    risk = RiskEngine(RiskLimits(), Values(), lambda payload: None)
    assert risk._product_names(oms, "SHFE.rb") == ("rb2601.SHFE",)
    oms.load_contracts(CONTRACTS)  # a new login's instruments
    assert risk._product_names(oms, "SHFE.rb") == ("rb2601.SHFE", "rb2605.SHFE")
    assert risk._product_names(oms, "DCE.m") == ("m2605.DCE", "m2609.DCE")
    assert risk._product_names(oms, "CZCE.MA") == ()
