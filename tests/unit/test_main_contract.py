"""The main contract (主力) of each product: the most open interest (backend/engine/main_contract.py)."""

from __future__ import annotations

from datetime import date, datetime

from backend.engine.constants import Exchange, Product
from backend.engine.main_contract import main_contracts, main_of
from backend.engine.objects import ContractData, TickData
from backend.engine.oms import Oms


def _contract(symbol: str, exchange: Exchange, month: int, product: Product = Product.FUTURES) -> ContractData:
    return ContractData(symbol, exchange, symbol, product, 10, 1.0, expire_date=date(2026, month, 15),
                        product_id=symbol.rstrip("0123456789"))  # fmt: skip


RB01, RB05, RB10 = (_contract(f"rb26{m:02d}", Exchange.SHFE, m) for m in (1, 5, 10))
M09, M01 = _contract("m2609", Exchange.DCE, 9), _contract("m2612", Exchange.DCE, 12)
OPTION = _contract("m2609C3000", Exchange.DCE, 9, Product.OPTION)
LISTED = (RB01, RB05, RB10, M09, M01, OPTION)


def test_the_main_contract_is_the_month_with_the_most_open_interest_not_the_nearest():
    interest = {RB01.local_symbol: 5_000.0, RB05.local_symbol: 90_000.0, RB10.local_symbol: 40_000.0,
                M09.local_symbol: 200_000.0, M01.local_symbol: 10_000.0, OPTION.local_symbol: 900_000.0}  # fmt: skip
    found = main_contracts(LISTED, interest)
    # one per futures product (the option's larger figure counts for nothing), the largest first
    assert [(m.product, m.local_symbol, m.open_interest) for m in found] == [
        ("m", "m2609.DCE", 200_000.0), ("rb", "rb2605.SHFE", 90_000.0)]  # fmt: skip
    assert main_of(LISTED, interest, "rb") == "rb2605.SHFE"
    assert main_of(LISTED, interest, "RB") is None  # product ids are as listed (rb, IF, SR)


def test_no_open_interest_no_main_and_ties_go_to_the_nearer_month():
    assert main_contracts(LISTED, {}) == []
    assert main_of(LISTED, {RB01.local_symbol: 0.0}, "rb") is None
    tied = {RB10.local_symbol: 7.0, RB05.local_symbol: 7.0}
    assert main_of(LISTED, tied, "rb") == "rb2605.SHFE"


def test_the_oms_keeps_the_counters_figures_and_each_ticks_newer_one():
    oms = Oms()
    oms.load_contracts(LISTED)
    oms.load_open_interest(((RB01.local_symbol, 50.0), (RB05.local_symbol, 40.0)))
    assert main_of(oms.contracts.values(), oms.open_interest, "rb") == "rb2601.SHFE"
    # the roll: rb2605 overtakes rb2601 on its ticks
    tick = TickData(RB05.symbol, RB05.exchange, datetime(2026, 1, 5, 9), date(2026, 1, 5), open_interest=60.0)
    oms.on_tick(tick)
    assert main_of(oms.contracts.values(), oms.open_interest, "rb") == "rb2605.SHFE"
    oms.load_open_interest(((RB05.local_symbol, 1.0),))  # a later query does not undo the live figure
    assert oms.open_interest[RB05.local_symbol] == 60.0
