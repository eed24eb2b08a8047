"""The main contract (主力合约) of each product: the listed futures contract with the most open interest.

Open interest is the market's own verdict on where a product trades: the month with the most open
lots is the one traders roll into, and it changes only slowly (unlike volume, which is zero at the
open and swings with one large order). The figures come from the counter (a depth-market-data query
at login, every instrument) and are kept current by the ticks of subscribed instruments (Oms).
A product none of whose contracts has any open interest yet has no main contract.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from backend.engine.constants import Product
from backend.engine.objects import ContractData


@dataclass(frozen=True, slots=True)
class MainContract:
    product: str  # the product id ("rb")
    local_symbol: str
    open_interest: float


def product_of(contract: ContractData) -> str:
    """The product id of a contract (the counter's ProductID, else the symbol's letters)."""
    return contract.product_id or contract.symbol.rstrip("0123456789")


def main_contracts(contracts: Iterable[ContractData], open_interest: Mapping[str, float]) -> list[MainContract]:
    """Each futures product's main contract, the product with the largest main open interest first.

    Ties go to the nearer delivery month (the earlier expiry, then the symbol), so the answer is stable.
    """
    best: dict[str, tuple[float, str, str, str]] = {}
    for contract in contracts:
        if contract.product is not Product.FUTURES:
            continue
        interest = open_interest.get(contract.local_symbol, 0.0)
        if interest <= 0.0:
            continue
        product = product_of(contract)
        expiry = contract.expire_date.isoformat() if contract.expire_date else "9999"
        key = (interest, expiry, contract.symbol, contract.local_symbol)
        held = best.get(product)
        if held is None or (-key[0], key[1], key[2]) < (-held[0], held[1], held[2]):
            best[product] = key
    found = [MainContract(product, key[3], key[0]) for product, key in best.items()]
    return sorted(found, key=lambda main: (-main.open_interest, main.product))


def main_of(contracts: Iterable[ContractData], open_interest: Mapping[str, float], product: str) -> str | None:
    """The local_symbol of one product's main contract (product id, case as listed: "rb", "IF", "SR"), or None."""
    wanted = [c for c in contracts if product_of(c) == product]
    found = main_contracts(wanted, open_interest)
    return found[0].local_symbol if found else None
