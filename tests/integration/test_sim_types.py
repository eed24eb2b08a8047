"""Every struct the sim hands to a callback has the Python types the installed openctp_ctp gives.

The binding's default instance of each struct class tells a field's type (float for double, int for
int, str for char and char arrays, bytes for tdapi's SettlementInfo.Content). openctp_ctp is never
imported in the pytest process (a missing zh_CN.GB18030 locale aborts it): a subprocess prints
the types as JSON. The sim is then driven through every request and callback path it implements,
with empty and non-empty answers, errors, fills, cancels, rejects, a closed position and a
settlement, and every struct argument of every callback is compared field by field (an unset char
field must also read the way its module reads one: "" in tdapi, "\\x00" in mdapi).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from backend.sim import mdapi, tdapi
from backend.sim.ctp_spec import CHAR_NUL, MD_STRUCTS, STRUCTS
from lib.ctp_preflight import binding_available
from tests.ctpclient import MdClient, TraderClient
from tests.integration.trader_sim import TraderSim, client_quote, fill_order, relogin

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json
from openctp_ctp import mdapi, tdapi

def types(module):
    found = {}
    for name, cls in vars(module).items():
        if name.startswith("CThostFtdc") and name.endswith("Field") and isinstance(cls, type):
            obj = cls()
            found[name] = {f: type(getattr(obj, f)).__name__ for f in dir(obj) if f[:1].isupper()}
    return found

print(json.dumps({"td": types(tdapi), "md": types(mdapi)}))
"""

QUERY_STRUCTS = {  # Req* -> (its struct, its callback)
    "ReqQrySettlementInfoConfirm": ("CThostFtdcQrySettlementInfoConfirmField", "OnRspQrySettlementInfoConfirm"),
    "ReqQryInstrument": ("CThostFtdcQryInstrumentField", "OnRspQryInstrument"),
    "ReqQryExchange": ("CThostFtdcQryExchangeField", "OnRspQryExchange"),
    "ReqQryProduct": ("CThostFtdcQryProductField", "OnRspQryProduct"),
    "ReqQryDepthMarketData": ("CThostFtdcQryDepthMarketDataField", "OnRspQryDepthMarketData"),
    "ReqQryTradingAccount": ("CThostFtdcQryTradingAccountField", "OnRspQryTradingAccount"),
    "ReqQryInvestor": ("CThostFtdcQryInvestorField", "OnRspQryInvestor"),
    "ReqQryTradingCode": ("CThostFtdcQryTradingCodeField", "OnRspQryTradingCode"),
    "ReqQryInvestorPosition": ("CThostFtdcQryInvestorPositionField", "OnRspQryInvestorPosition"),
    "ReqQryInvestorPositionDetail": ("CThostFtdcQryInvestorPositionDetailField", "OnRspQryInvestorPositionDetail"),
    "ReqQryOrder": ("CThostFtdcQryOrderField", "OnRspQryOrder"),
    "ReqQryTrade": ("CThostFtdcQryTradeField", "OnRspQryTrade"),
    "ReqQryInstrumentMarginRate": ("CThostFtdcQryInstrumentMarginRateField", "OnRspQryInstrumentMarginRate"),
    "ReqQryExchangeMarginRate": ("CThostFtdcQryExchangeMarginRateField", "OnRspQryExchangeMarginRate"),
    "ReqQryInstrumentCommissionRate": ("CThostFtdcQryInstrumentCommissionRateField",
                                       "OnRspQryInstrumentCommissionRate"),
    "ReqQryInstrumentOrderCommRate": ("CThostFtdcQryInstrumentOrderCommRateField", "OnRspQryInstrumentOrderCommRate"),
    "ReqQryOptionInstrTradeCost": ("CThostFtdcQryOptionInstrTradeCostField", "OnRspQryOptionInstrTradeCost"),
    "ReqQryOptionInstrCommRate": ("CThostFtdcQryOptionInstrCommRateField", "OnRspQryOptionInstrCommRate"),
    "ReqQryMaxOrderVolume": ("CThostFtdcQryMaxOrderVolumeField", "OnRspQryMaxOrderVolume"),
}  # fmt: skip
BROKER = "9999"


@pytest.fixture(scope="module")
def binding_types() -> dict[str, dict[str, dict[str, str]]]:
    ok, reason = binding_available("openctp_ctp")
    if not ok:
        pytest.skip(reason)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, f"probing openctp_ctp failed ({done.returncode}):\n{done.stderr[-3000:]}"
    return json.loads(done.stdout)


def _structs(client: TraderClient | MdClient) -> list[tuple[str, Any]]:
    """(callback, struct) for every struct argument of every callback the client received."""
    return [(call.name, arg) for call in client.recorder.calls for arg in call.args
            if type(arg).__name__.startswith("CThostFtdc")]  # fmt: skip


def _mismatches(api: str, received: list[tuple[str, Any]], types: dict[str, dict[str, str]]) -> list[str]:
    found = set()
    other_nul = CHAR_NUL["md" if api == "td" else "td"]
    chars = {name: {f[0] for f in fields if f[2] == "c"} for name, fields in {**STRUCTS, **MD_STRUCTS}.items()}
    for callback, struct in received:
        name = type(struct).__name__
        expected = types[name]
        for field, type_name in expected.items():
            value = getattr(struct, field)
            got = type(value).__name__
            if got != type_name:
                found.add(f"{api} {callback} {name}.{field}: {got} (binding: {type_name})")
            elif field in chars.get(name, ()) and value == other_nul:  # tdapi reads an unset char "", mdapi "\x00"
                found.add(f"{api} {callback} {name}.{field}: unset reads {value!r} (binding: {CHAR_NUL[api]!r})")
    return sorted(found)


def _all_queries(client: TraderClient, symbol: str, option: str) -> dict[str, list[Any]]:
    """Every query the sim answers, for one future (options' queries: one option), leaving out
    BrokerID and InvestorID as a client may."""
    answers = {}
    for method, (struct_name, callback) in QUERY_STRUCTS.items():
        fields = set(dir(client.struct(struct_name)))
        wanted = option if "Option" in method else symbol
        values = {"BrokerID": "", "InvestorID": "", "InstrumentID": wanted}
        values = {k: v for k, v in values.items() if k in fields}
        answers[method] = client.query(method, struct_name, callback, **values)
    return answers


def _drive_trader(sim: TraderSim) -> TraderClient:
    """Walk the trader side through every path the sim implements; returns the client that saw them."""
    client = sim.client()
    api = client.api
    client.recorder.wait_for("OnFrontConnected")
    auth = client.struct("CThostFtdcReqAuthenticateField", BrokerID=BROKER, UserID="demo", AppID="app",
                         AuthCode="wrong")  # fmt: skip
    assert api.ReqAuthenticate(auth, client.next_id()) == 0
    assert client.recorder.wait_for("OnRspAuthenticate").error_id == 63
    auth.AuthCode = "code"
    mark = client.recorder.mark()
    assert api.ReqAuthenticate(auth, client.next_id()) == 0
    assert client.recorder.wait_for("OnRspAuthenticate", start=mark).error_id == 0
    assert client.login(password="wrong").error_id == 3
    assert client.login().error_id == 0

    symbol, exchange = sim.contract("rb")
    option = next(spec.symbol for spec in sim.control.specs.values() if spec.is_option)
    sim.control.set_price(symbol, 3200.0)
    # Before the settlement confirmation: empty answers and a counter reject (42).
    client.order(symbol, exchange, "0", "0", 3200.0, 1)
    client.recorder.wait_for("OnErrRtnOrderInsert")
    _all_queries(client, "no-such", "no-such")
    assert client.confirm().error_id == 0

    # Orders: a fill, a rest then cancel, cancels refused (26 finished, 25 unknown), exchange rejects.
    fill_order(client, symbol, exchange, "0", "0", 2)
    quote = client_quote(client, symbol)
    low = quote.lower_limit
    ref = client.order(symbol, exchange, "0", "0", low, 1)
    client.wait_order(ref, lambda data: data["OrderStatus"] == "3")
    client.cancel(ref)
    client.wait_order(ref, lambda data: data["OrderStatus"] == "5")
    client.cancel(ref)
    client.recorder.wait_for("OnErrRtnOrderAction")
    client.cancel(sys_id="no-such", exchange=exchange)
    client.recorder.wait_until(lambda calls: sum(c.name == "OnErrRtnOrderAction" for c in calls) == 2)
    ref = client.order(symbol, exchange, "0", "0", low + quote.spec.price_tick / 2, 1)  # off tick
    client.wait_order(ref, lambda data: data["OrderSubmitStatus"] == "4")
    ref = client.order(symbol, exchange, "0", "0", 0.0, 1, price_type="1", time_condition="1")  # market on SHFE
    client.wait_order(ref, lambda data: data["OrderSubmitStatus"] == "4")
    client.order(symbol, exchange, "0", "0", low, 100000)  # too many lots for the money: 31
    client.recorder.wait_until(lambda calls: sum(c.name == "OnErrRtnOrderInsert" for c in calls) == 2)
    _all_queries(client, symbol, option)  # an open position

    fill_order(client, symbol, exchange, "1", "3", 2)  # close it: a closed position row stays
    answers = _all_queries(client, symbol, option)
    (closed,) = [c.data for c in answers["ReqQryInvestorPosition"] if c.data]
    assert closed["Position"] == 0

    fill_order(client, symbol, exchange, "0", "0", 1)  # a lot that becomes yesterday's at the settlement
    # Password change: refused, then done.
    change = client.struct("CThostFtdcUserPasswordUpdateField", BrokerID=BROKER, UserID="demo", OldPassword="x",
                           NewPassword="new")  # fmt: skip
    assert api.ReqUserPasswordUpdate(change, client.next_id()) == 0
    client.recorder.wait_for("OnRspUserPasswordUpdate")
    change.OldPassword = "demo"
    mark = client.recorder.mark()
    assert api.ReqUserPasswordUpdate(change, client.next_id()) == 0
    assert client.recorder.wait_for("OnRspUserPasswordUpdate", start=mark).error_id == 0
    client.password = "new"

    # A settlement: the session drops, yesterday's positions and details after the reconnect.
    mark = client.recorder.mark()
    sim.control.settle()
    client.recorder.wait_for("OnFrontConnected", start=mark)
    assert api.ReqAuthenticate(auth, client.next_id()) == 0
    client.recorder.wait_for("OnRspAuthenticate", start=mark)
    relogin(client, mark)
    _all_queries(client, symbol, option)

    # Logged out: every request answers 6 without data.
    logout = client.struct("CThostFtdcUserLogoutField", BrokerID=BROKER, UserID="demo")
    assert api.ReqUserLogout(logout, client.next_id()) == 0
    client.recorder.wait_for("OnRspUserLogout")
    for method, (struct_name, _) in QUERY_STRUCTS.items():
        assert getattr(api, method)(client.struct(struct_name), client.next_id()) == 0
    client.order(symbol, exchange, "0", "0", low, 1)
    client.cancel("1")
    assert api.ReqSettlementInfoConfirm(client.struct("CThostFtdcSettlementInfoConfirmField"), client.next_id()) == 0
    client.recorder.wait_for("OnRspSettlementInfoConfirm", lambda c: c.error_id == 6)
    return client


def _drive_md(sim: TraderSim, flow: Path) -> MdClient:
    flow.mkdir()
    client = MdClient(mdapi, str(flow / "md_"), front=sim.front).start()
    assert client.login().error_id == 0
    symbol, _ = sim.contract("rb")
    sim.control.set_price(symbol, 3200.0)
    mark = client.recorder.mark()
    assert client.subscribe([symbol, "no-such"]) == 0
    client.wait_tick(symbol, since=mark)  # the snapshot pushed on subscribe
    sim.control.set_price(symbol, 3210.0)
    client.recorder.wait_until(lambda calls: sum(c.name == "OnRtnDepthMarketData" for c in calls) >= 2)
    assert client.unsubscribe([symbol]) == 0
    client.recorder.wait_for("OnRspUnSubMarketData")
    logout = mdapi.CThostFtdcUserLogoutField()
    logout.BrokerID, logout.UserID = BROKER, "demo"
    assert client.api.ReqUserLogout(logout, client.next_id()) == 0
    client.recorder.wait_for("OnRspUserLogout")
    return client


def test_every_callback_struct_has_the_binding_types(
    binding_types: dict[str, dict[str, dict[str, str]]], trader_sim_factory: Any, tmp_path: Path
) -> None:
    sim = trader_sim_factory(auth_code="code", app_id="app", market="full", full_market_size=300)
    trader = _drive_trader(sim)
    md = _drive_md(sim, tmp_path / "md")
    try:
        received = _structs(trader)
        seen = {callback for callback, _ in received}
        for callback in ("OnRspAuthenticate", "OnRspUserLogin", "OnRspSettlementInfoConfirm", "OnRspOrderInsert",
                         "OnErrRtnOrderInsert", "OnRtnOrder", "OnRtnTrade", "OnRspOrderAction",
                         "OnErrRtnOrderAction", "OnRspUserPasswordUpdate", "OnRspUserLogout",
                         *(callback for _, callback in QUERY_STRUCTS.values())):  # fmt: skip
            assert callback in seen, f"the walk never received {callback}"
        with_data = {c.name for c in trader.recorder.calls if c.data is not None}
        assert {callback for _, callback in QUERY_STRUCTS.values()} <= with_data, "a query never answered a row"
        md_received = _structs(md)
        assert {"OnRspSubMarketData", "OnRspUnSubMarketData", "OnRtnDepthMarketData"} <= {c for c, _ in md_received}
        problems = _mismatches("td", received, binding_types["td"])
        problems += _mismatches("md", md_received, binding_types["md"])
        assert not problems, f"{len(problems)} fields differ from openctp_ctp:\n" + "\n".join(problems)
    finally:
        md.close()


def test_answers_name_the_accounts_broker_and_investor(trader_sim_factory: Any) -> None:
    """A real front fills BrokerID and InvestorID from the session's account, not from the request:
    queries, orders and cancels that leave BrokerID out still get the broker the session logged in with."""
    sim = trader_sim_factory(market="full", full_market_size=300)
    client = sim.ready_client()
    client.broker_id = ""  # logged in with 9999; from here on every request leaves BrokerID out
    symbol, exchange = sim.contract("rb")
    sim.control.set_price(symbol, 3200.0)
    fill_order(client, symbol, exchange, "0", "0", 1)
    ref = client.order(symbol, exchange, "0", "0", client_quote(client, symbol).lower_limit, 1)
    client.wait_order(ref, lambda data: data["OrderStatus"] == "3")
    client.cancel(ref)
    client.wait_order(ref, lambda data: data["OrderStatus"] == "5")
    option = next(spec.symbol for spec in sim.control.specs.values() if spec.is_option)
    answers = _all_queries(client, symbol, option)
    for method, calls in answers.items():
        assert any(call.data for call in calls), f"{method} answered no row"
    received = [(c.name, c.data) for c in client.recorder.calls if c.data is not None and c.name != "OnRspUserLogin"]
    assert {"OnRtnOrder", "OnRtnTrade", "OnRspSettlementInfoConfirm"} <= {name for name, _ in received}
    identity = {"BrokerID": BROKER, "InvestorID": "demo"}
    wrong = {f"{callback}: {name}={data[name]!r}" for callback, data in received
             for name, wanted in identity.items() if data.get(name, wanted) != wanted}  # fmt: skip
    assert not wrong, "\n".join(sorted(wrong))


def test_restored_and_replayed_structs_have_the_binding_types(
    binding_types: dict[str, dict[str, dict[str, str]]], trader_sim_factory: Any, tmp_path: Path
) -> None:
    """What a restarted durable sim answers from its journal, and the private flow a RESTART client
    gets replayed, keep the binding's types (JSON round trips must not turn floats into ints)."""
    settings = {"name": f"types-{os.getpid()}", "data_dir": str(tmp_path / "data")}
    sim = trader_sim_factory(**settings)
    client = sim.ready_client()
    symbol, exchange = sim.contract("rb")
    sim.control.set_price(symbol, 3200.0)
    fill_order(client, symbol, exchange, "0", "0", 2)
    fill_order(client, symbol, exchange, "1", "3", 2)  # closed: the position row has no lots
    ref = client.order(symbol, exchange, "0", "0", client_quote(client, symbol).lower_limit, 1)
    client.wait_order(ref, lambda data: data["OrderStatus"] == "3")  # still working at the restart
    sim.stop()

    restarted = trader_sim_factory(**settings)
    replayed = restarted.client(resume=tdapi.THOST_TERT_RESTART).ready()
    replayed.recorder.wait_until(lambda calls: sum(c.name == "OnRtnTrade" for c in calls) == 2)
    _all_queries(replayed, symbol, "no-such")
    received = _structs(replayed)
    assert {"OnRtnOrder", "OnRtnTrade", "OnRspQryInvestorPosition", "OnRspQryOrder"} <= {c for c, _ in received}
    problems = _mismatches("td", received, binding_types["td"])
    assert not problems, f"{len(problems)} fields differ from openctp_ctp:\n" + "\n".join(problems)
