"""Dropped and unreachable fronts, and the private flow replayed after a re-login."""

from __future__ import annotations

import pytest

from backend.sim import tdapi
from tests.ctpclient import TraderClient
from tests.integration.trader_sim import TraderSim, barrier, fill_order, relogin


@pytest.mark.parametrize("reason", [0x1001, 0x1002, 0x2001, 0x2002, 0x2003])
def test_drop_reports_its_reason_and_the_next_session_is_new(trader_sim: TraderSim, trader: TraderClient,
                                                             reason: int) -> None:  # fmt: skip
    old_session = trader.session["SessionID"]
    mark = trader.recorder.mark()
    trader_sim.control.drop_connections(reason=reason)
    assert trader.recorder.wait_for("OnFrontDisconnected", start=mark).args == (reason,)
    login = relogin(trader, mark)
    assert login.data is not None and login.data["SessionID"] != old_session
    assert [c.name for c in trader.recorder.calls[mark:]][:2] == ["OnFrontDisconnected", "OnFrontConnected"]


def test_order_of_a_previous_session_cancels_by_its_old_identity(trader_sim: TraderSim,
                                                                  trader: TraderClient) -> None:  # fmt: skip
    m, exchange = trader_sim.contract("m")
    ref = trader.order(m, exchange, "0", "0", 2800.0, 1)
    accepted = trader.wait_order(ref, lambda d: d["OrderStatus"] == "3")
    mark = trader.recorder.mark()
    trader_sim.control.drop_connections(reason=0x1001)
    relogin(trader, mark)
    assert trader.session["SessionID"] != accepted["SessionID"]
    action = trader.struct("CThostFtdcInputOrderActionField", BrokerID="9999", InvestorID="demo", UserID="demo",
                           ActionFlag="0", ExchangeID=exchange, InstrumentID=m, FrontID=accepted["FrontID"],
                           SessionID=accepted["SessionID"], OrderRef=accepted["OrderRef"])  # fmt: skip
    assert trader.api.ReqOrderAction(action, trader.next_id()) == 0
    cancelled = trader.recorder.wait_for("OnRtnOrder", lambda c: c.data["OrderStatus"] == "5", start=mark).data
    assert (cancelled["OrderSysID"], cancelled["SessionID"]) == (accepted["OrderSysID"], accepted["SessionID"])


def _flow(client: TraderClient, since: int) -> list[tuple[str, str]]:
    """The private flow received since `since`: ("order", OrderStatus) / ("trade", TradeID)."""
    out = []
    for call in client.recorder.calls[since:]:
        if call.name == "OnRtnOrder":
            out.append(("order", call.data["OrderStatus"]))
        elif call.name == "OnRtnTrade":
            out.append(("trade", call.data["TradeID"]))
    return out


@pytest.mark.parametrize("resume", ["RESTART", "RESUME", "QUICK"])
def test_private_flow_after_relogin_follows_subscribe_private_topic(trader_sim: TraderSim, resume: str) -> None:
    client = trader_sim.ready_client(resume=getattr(tdapi, f"THOST_TERT_{resume}"))
    m, exchange = trader_sim.contract("m")
    trader_sim.control.set_price(m, 2900.0)
    fill_order(client, m, exchange, "0", "0")
    resting = client.order(m, exchange, "0", "0", 2850.0, 1)
    client.wait_order(resting, lambda d: d["OrderStatus"] == "3")
    delivered = _flow(client, 0)

    mark = client.recorder.mark()
    trader_sim.control.drop_connections(reason=0x1001)
    client.recorder.wait_for("OnFrontDisconnected", start=mark)
    trader_sim.control.set_price(m, 2840.0)  # the resting order fills while the client is away
    relogin(client, mark, confirm=False)
    barrier(client)
    replayed = _flow(client, mark)

    trades = [c.data["TradeID"] for c in client.query("ReqQryTrade", "CThostFtdcQryTradeField", "OnRspQryTrade")]
    assert len(trades) == 2
    missed = [("order", "0"), ("trade", trades[1])]
    expected = {"RESTART": delivered + missed, "RESUME": missed, "QUICK": []}[resume]
    assert sorted(replayed) == sorted(expected)  # a fill's trade and order may come in either order
    if resume == "RESTART":
        assert [tid for kind, tid in replayed if kind == "trade"] == trades  # the same TradeIDs again


def test_resume_continues_from_the_flow_file_of_a_previous_api_object(trader_sim: TraderSim) -> None:
    resume = tdapi.THOST_TERT_RESUME
    first = trader_sim.ready_client(resume=resume)
    m, exchange = trader_sim.contract("m")
    trader_sim.control.set_price(m, 2900.0)
    fill_order(first, m, exchange, "0", "0")
    first.close()  # the process ends; its flow files stay behind

    again = TraderClient(tdapi, first.flow_prefix, front=trader_sim.front, resume=resume)
    trader_sim.clients.append(again)
    again.start().ready()
    fill_order(again, m, exchange, "0", "0")
    barrier(again)
    trades = [c.data["TradeID"] for c in again.query("ReqQryTrade", "CThostFtdcQryTradeField", "OnRspQryTrade")]
    assert [tid for kind, tid in _flow(again, 0) if kind == "trade"] == trades[1:]  # only the new fill


def test_unreachable_front_storms_disconnects_until_it_comes_back(trader_sim: TraderSim,
                                                                  trader: TraderClient) -> None:  # fmt: skip
    mark = trader.recorder.mark()
    trader_sim.control.set_unreachable(True)

    def storm(calls: list) -> bool:
        return sum(c.name == "OnFrontDisconnected" for c in calls[mark:]) >= 100

    trader.recorder.wait_until(storm, what="100 OnFrontDisconnected")
    during = trader.recorder.calls[mark:]
    assert {c.args for c in during if c.name == "OnFrontDisconnected"} == {(4097,)}
    assert "OnFrontConnected" not in {c.name for c in during}
    login = trader.struct("CThostFtdcReqUserLoginField", BrokerID="9999", UserID="demo", Password="demo")
    assert trader.api.ReqUserLogin(login, trader.next_id()) == -1

    back = trader.recorder.mark()
    trader_sim.control.set_unreachable(False)
    relogin(trader, back)


def test_second_session_of_the_account_sees_the_same_private_flow(trader_sim: TraderSim,
                                                                  trader: TraderClient) -> None:  # fmt: skip
    other = trader_sim.ready_client()
    m, exchange = trader_sim.contract("m")
    trader_sim.control.set_price(m, 2900.0)
    fill_order(trader, m, exchange, "0", "0")
    barrier(other)
    assert _flow(other, 0) == _flow(trader, 0) != []

