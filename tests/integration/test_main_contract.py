"""Issue 17 item 5, the engine side: each product's main contract (主力) by the counter's open interest, for
the desk (GET /contract?main=1, `is_main` on every contract) and for strategies (Strategy.main_contract)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from auth.attempts import attempts
from backend import sim
from backend.engine.main_contract import product_of
from tests.integration.test_strategies import Desk, make_desk
from tests.integration.test_web_api import Web, make_web


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    attempts.reset()
    made = make_web(tmp_path / "app")
    yield made
    made.close()


def _sim_interest(web: Web, local_symbols: list[str]) -> dict[str, float]:
    """The sim counter's own open interest now (its quotes), the truth the desk must follow."""
    exchange = sim.control(web.sim_name)
    return {name: exchange.live_quote(name.partition(".")[0]).open_interest for name in local_symbols}


def test_the_main_contracts_are_the_counters_largest_open_interest_one_per_product(web: Web):
    web.log_in()
    mains = web.wait("the open interest query answered", lambda: web.ok("GET", "/contract", query_string={"main": 1}))
    assert all(item["is_main"] and item["product"] == "futures" for item in mains), mains[:3]
    products = [item["product_id"] for item in mains]
    assert len(products) == len(set(products)) and {"rb", "m", "IF", "i"} <= set(products), products
    interest = [item["open_interest"] for item in mains]
    assert interest == sorted(interest, reverse=True) and interest[0] > 0, interest[:5]
    # the desk's rb main is the sim's most-held rb month (the figures move a little between query and now)
    months = [c["local_symbol"] for c in web.ok("GET", "/contract", query_string={"product": "rb"})]
    truth = _sim_interest(web, months)
    chosen = next(item["local_symbol"] for item in mains if item["product_id"] == "rb")
    assert truth[chosen] >= 0.9 * max(truth.values()), (chosen, truth)
    # one rb listed as main in the full list, the others not; limit keeps the largest
    flags = {c["local_symbol"]: c["is_main"] for c in web.ok("GET", "/contract", query_string={"product": "rb"})}
    assert [name for name, main in flags.items() if main] == [chosen]
    assert web.ok("GET", "/contract", query_string={"main": 1, "limit": 3}) == mains[:3]
    assert web.ok("GET", "/contract", query_string={"local_symbol": chosen})["is_main"] is True


MAIN_PICKER = """
from backend.strategy import Strategy


class Picker(Strategy):
    def on_init(self):
        self.info("main rb: " + self.main_contract("rb"))
        try:
            self.main_contract("nosuchproduct")
        except LookupError as error:
            self.info("none: " + str(error))


ext = Picker("picker")
"""


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    yield from make_desk(tmp_path)


def test_a_strategy_asks_for_a_products_main_contract(desk: Desk):
    assert desk.call("post", "/code", text=MAIN_PICKER).status_code == 200
    assert desk.call("put", "/strategy", name="picker", operation="start").status_code == 200
    engine = desk.app.extensions["ctpdesk"].engine

    def said() -> list[str]:
        return [r.message for r in engine.logs if r.owner == "picker" and r.message.startswith(("main", "none"))]

    lines: list[Any] = desk.wait(lambda: len(said()) == 2 and said(), what="the strategy's answers")
    mains = desk.call("get", "/contract?main=1&product=rb").json["data"]
    assert lines[0] == f"main rb: {mains[0]['local_symbol']}"
    assert lines[1].startswith("none: no main contract of 'nosuchproduct'"), lines
    oms = engine.oms
    assert product_of(oms.contracts[mains[0]["local_symbol"]]) == "rb"
