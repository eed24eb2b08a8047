"""With data_dir set, the sim's counter keeps its books across a shutdown and across a SIGKILL."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.ctpclient import TraderClient
from tests.integration.crash_child import killed_after_report
from tests.integration.trader_sim import TraderSim, account, fill_order, positions

ROOT = Path(__file__).resolve().parents[2]
ORDERS = ("ReqQryOrder", "CThostFtdcQryOrderField", "OnRspQryOrder")
TRADES = ("ReqQryTrade", "CThostFtdcQryTradeField", "OnRspQryTrade")
ACCOUNT_FIELDS = ("PreBalance", "Balance", "Available", "CurrMargin", "FrozenMargin", "FrozenCommission",
                  "Commission", "CloseProfit", "PositionProfit")  # fmt: skip
POSITION_FIELDS = ("InstrumentID", "PosiDirection", "PositionDate", "Position", "YdPosition", "TodayPosition",
                   "PositionCost", "UseMargin", "ShortFrozen")  # fmt: skip


def _state(client: TraderClient) -> dict[str, Any]:
    """What must survive: account figures, position rows, trades and orders as the queries report them."""
    return {
        "account": {name: account(client)[name] for name in ACCOUNT_FIELDS},
        "positions": sorted(tuple(row[name] for name in POSITION_FIELDS) for row in positions(client)),
        "trades": [(c.data["TradeID"], c.data["OrderSysID"], c.data["Price"], c.data["Volume"])
                   for c in client.query(*TRADES)],
        "orders": [(c.data["OrderSysID"], c.data["OrderStatus"], c.data["VolumeTraded"])
                   for c in client.query(*ORDERS)],
    }  # fmt: skip


def _restart(factory: Callable[..., TraderSim], sim: TraderSim, password: str = "demo") -> TraderClient:
    """Stop `sim` (clients closed, sim shut down), start a new one on the same name and data_dir, log in."""
    sim.stop()
    return factory(name=sim.name, data_dir=sim.settings["data_dir"]).ready_client(password=password)


@pytest.fixture
def durable(trader_sim_factory: Callable[..., TraderSim], tmp_path: Path) -> TraderSim:
    return trader_sim_factory(name=f"persist-{os.getpid()}", data_dir=str(tmp_path / "data"))


def test_books_and_password_survive_shutdown(trader_sim_factory: Callable[..., TraderSim], durable: TraderSim) -> None:
    client = durable.ready_client()
    rb, exchange = durable.contract("rb")
    durable.control.set_price(rb, 3200.0)
    fill_order(client, rb, exchange, "0", "0", 2)
    fill_order(client, rb, exchange, "1", "3", 1)
    update = client.struct("CThostFtdcUserPasswordUpdateField", BrokerID="9999", UserID="demo", OldPassword="demo",
                           NewPassword="n3w-pass")  # fmt: skip
    assert client.api.ReqUserPasswordUpdate(update, client.next_id()) == 0
    assert client.recorder.wait_for("OnRspUserPasswordUpdate").error_id == 0
    before = _state(client)
    assert len(before["trades"]) == 2 and before["account"]["CloseProfit"] != 0

    restored = _restart(trader_sim_factory, durable, password="n3w-pass")
    assert _state(restored) == before
    assert durable.client().login(password="demo").error_id == 3  # on the restarted sim of the same name


def test_a_password_kept_in_clear_by_an_older_version_still_logs_in_and_is_hashed(
    trader_sim_factory: Callable[..., TraderSim], durable: TraderSim
) -> None:
    durable.ready_client()
    durable.stop()
    directory = next(Path(durable.settings["data_dir"]).glob("sim-*"))
    snapshot = json.loads((directory / "snapshot.json").read_text(encoding="utf-8"))
    account_state = snapshot["accounts"]["demo"]
    assert "password" not in account_state and "old-clear" not in json.dumps(snapshot)
    del account_state["password_hash"]
    account_state["password"] = "old-clear"  # what versions before the hashing wrote
    (directory / "snapshot.json").write_text(json.dumps(snapshot), encoding="utf-8")

    restarted = trader_sim_factory(name=durable.name, data_dir=durable.settings["data_dir"])
    assert restarted.client().login(password="demo").error_id == 3
    restarted.ready_client(password="old-clear")
    restarted.stop()
    assert "old-clear" not in (directory / "snapshot.json").read_text(encoding="utf-8")


def test_position_profit_survives_shutdown(trader_sim_factory: Callable[..., TraderSim], durable: TraderSim) -> None:
    client = durable.ready_client()
    rb, exchange = durable.contract("rb")
    durable.control.set_price(rb, 3200.0)
    fill_order(client, rb, exchange, "0", "0", 2)
    durable.control.set_price(rb, 3215.0)
    before = account(client)
    assert before["PositionProfit"] != 0
    after = account(_restart(trader_sim_factory, durable))
    assert (after["PositionProfit"], after["Balance"]) == (before["PositionProfit"], before["Balance"])


def test_frozen_market_does_not_move_on_restart(trader_sim_factory: Callable[..., TraderSim],
                                                durable: TraderSim) -> None:  # fmt: skip
    client = durable.ready_client()
    m, exchange = durable.contract("m")
    durable.control.set_price(m, 2900.0)
    client.wait_order(client.order(m, exchange, "0", "0", 2800.0, 1), lambda d: d["OrderStatus"] == "3")
    volume = durable.control.market.quotes[m].volume
    _restart(trader_sim_factory, durable)  # logged in: the new sim's clock has been running for a while
    quote = durable.control.market.quotes[m]
    assert (quote.volume, quote.last_price) == (volume, 2900.0)  # tick_rate=0: nothing trades by itself


def _resting(sim: TraderSim, client: TraderClient) -> None:
    m, exchange = sim.contract("m")
    client.wait_order(client.order(m, exchange, "0", "0", 2800.0, 2), lambda d: d["OrderStatus"] == "3")


def _partly_filled_then_cancelled(sim: TraderSim, client: TraderClient) -> None:
    m, exchange = sim.contract("m")
    sim.control.set_price(m, 2900.0)
    quote = sim.control.market.quotes[m]
    ref = client.order(m, exchange, "0", "0", quote.ask_prices[0], quote.ask_volumes[0] + 2)
    client.wait_order(ref, lambda d: d["OrderStatus"] == "1")
    client.cancel(ref=ref, exchange=exchange, symbol=m)
    client.wait_order(ref, lambda d: d["OrderStatus"] == "5")


def _fak_remainder(sim: TraderSim, client: TraderClient) -> None:
    m, exchange = sim.contract("m")
    sim.control.set_price(m, 2900.0)
    quote = sim.control.market.quotes[m]
    ref = client.order(m, exchange, "0", "0", quote.ask_prices[0], quote.ask_volumes[0] + 5, time_condition="1")
    client.wait_order(ref, lambda d: d["OrderStatus"] == "5")


@pytest.mark.parametrize("prepare", [_resting, _partly_filled_then_cancelled, _fak_remainder],
                         ids=["resting-order", "partly-filled-then-cancelled", "fak-remainder"])  # fmt: skip
def test_frozen_money_survives_shutdown(trader_sim_factory: Callable[..., TraderSim], durable: TraderSim,
                                        prepare: Callable[[TraderSim, TraderClient], None]) -> None:  # fmt: skip
    client = durable.ready_client()
    prepare(durable, client)
    before = account(client)
    after = account(_restart(trader_sim_factory, durable))
    frozen = ("FrozenMargin", "FrozenCommission", "Available")
    assert {k: after[k] for k in frozen} == pytest.approx({k: before[k] for k in frozen})


def test_resting_order_fills_after_shutdown(trader_sim_factory: Callable[..., TraderSim], durable: TraderSim) -> None:
    client = durable.ready_client()
    m, exchange = durable.contract("m")
    ref = client.order(m, exchange, "0", "0", 2800.0, 1)
    client.wait_order(ref, lambda d: d["OrderStatus"] == "3")
    restored = _restart(trader_sim_factory, durable)
    durable.control.set_price(m, 2795.0)  # control() reaches the running sim of that name: the new one
    filled = restored.wait_order(ref, lambda d: d["OrderStatus"] == "0")
    assert filled["VolumeTraded"] == 1


CRASHING_TRADER = """
import json, sys, threading
from pathlib import Path
from tests.integration.trader_sim import account, fill_order, new_sim

name, data_dir, base = sys.argv[1:4]
sim = new_sim(Path(base), name, data_dir=data_dir)
client = sim.ready_client()
m, m_exchange = sim.contract("m")
rb, rb_exchange = sim.contract("rb")
sim.control.set_price(m, 2900.0)
sim.control.set_price(rb, 3200.0)
fill_order(client, m, m_exchange, "0", "0", 3)
fill_order(client, rb, rb_exchange, "1", "0", 2)
fill_order(client, m, m_exchange, "1", "1", 1)
resting = client.order(m, m_exchange, "0", "0", 2800.0, 1)
client.wait_order(resting, lambda d: d["OrderStatus"] == "3")
report = {"trades": [c.data["TradeID"] for c in client.recorder.named("OnRtnTrade")], "m": m, "rb": rb,
          "session": client.session["SessionID"], "last_ref": client.order_ref, "account": account(client)}
print(json.dumps(report), flush=True)  # everything above was acknowledged by the counter
threading.Event().wait()  # hold everything open until killed
"""


@pytest.fixture
def crashed(tmp_path: Path) -> dict[str, Any]:
    """Run a trading child on a durable sim, SIGKILL it once it reported its acknowledged trades."""
    name, data_dir = f"crash-{os.getpid()}", str(tmp_path / "data")
    report = killed_after_report(CRASHING_TRADER, name, data_dir, str(tmp_path / "child"), what="the trading child")
    return {**report, "name": name, "data_dir": data_dir}


def test_books_survive_sigkill(trader_sim_factory: Callable[..., TraderSim], crashed: dict[str, Any]) -> None:
    client = trader_sim_factory(name=crashed["name"], data_dir=crashed["data_dir"]).ready_client()
    trades = [c.data["TradeID"] for c in client.query(*TRADES)]
    assert len(crashed["trades"]) == 3 and trades == crashed["trades"]
    held = {(r["InstrumentID"], r["PosiDirection"]): r["Position"] for r in positions(client)}
    assert held == {(crashed["m"], "2"): 2, (crashed["rb"], "3"): 2}
    orders = [(c.data["OrderStatus"], c.data["VolumeTotalOriginal"]) for c in client.query(*ORDERS)]
    assert orders.count(("3", 1)) == 1 and len(orders) == 4
    money = account(client)
    assert {name: money[name] for name in ACCOUNT_FIELDS} == pytest.approx(
        {name: crashed["account"][name] for name in ACCOUNT_FIELDS})


def test_new_session_after_sigkill_keeps_order_identities_unique(trader_sim_factory: Callable[..., TraderSim],
                                                                 crashed: dict[str, Any]) -> None:  # fmt: skip
    client = trader_sim_factory(name=crashed["name"], data_dir=crashed["data_dir"]).ready_client()
    before = {c.data["OrderSysID"]: c.data for c in client.query(*ORDERS)}
    # FrontID_SessionID_OrderRef must stay unique: a new session id, or an OrderRef above the old ones.
    assert client.session["SessionID"] != crashed["session"] or client.order_ref >= crashed["last_ref"]
    ref = client.order(crashed["m"], "DCE", "0", "0", 2810.0, 1)
    client.wait_order(ref, lambda d: d["OrderStatus"] == "3")
    after = {c.data["OrderSysID"]: c.data for c in client.query(*ORDERS)}
    assert len(after) == len(before) + 1
    assert all(after[sys_id] == data for sys_id, data in before.items())
