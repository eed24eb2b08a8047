"""The sim's trader session as a raw CTP client meets it: connect, authenticate, log in, confirm,
flow control of queries, argument checks of the binding, and the callback thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from backend.sim import tdapi
from lib.native import monotonic
from tests.ctpclient import TraderClient
from tests.integration.trader_sim import TraderSim, barrier, order_id

TRADING_DAY = "20251104"


def _login_field(client: TraderClient, **values: Any) -> Any:
    base = {"BrokerID": client.broker_id, "UserID": client.userid, "Password": client.password}
    return client.struct("CThostFtdcReqUserLoginField", **{**base, **values})


def _send(client: TraderClient, method: str, struct_name: str, **values: Any) -> tuple[int, int]:
    """Call a Req* method raw; returns (its return code, the request id used)."""
    request_id = client.next_id()
    return getattr(client.api, method)(client.struct(struct_name, **values), request_id), request_id


def _answer(client: TraderClient, callback: str, request_id: int, start: int = 0, timeout: float = 5.0):
    return client.recorder.wait_for(callback, lambda c: c.args[-2] == request_id, start=start, timeout=timeout)


# --- login sequence ---------------------------------------------------------------------------------
def test_connect_login_reports_session_and_negative_session_ids_work(trader_sim: TraderSim) -> None:
    client = trader_sim.client()
    login = client.login()
    assert client.recorder.calls[0].name == "OnFrontConnected"
    assert login.error_id == 0
    data = login.data
    assert data is not None
    assert data["TradingDay"] == TRADING_DAY == client.api.GetTradingDay()
    assert data["FrontID"] == 1
    assert data["SessionID"] < 0  # real SessionIDs may be negative: ids must not split on "-"
    assert data["MaxOrderRef"].strip().isdigit()
    assert client.confirm().error_id == 0

    ref = client.order(*trader_sim.contract("rb"), "0", "0", 3000.0, 1)
    accepted = client.wait_order(ref, lambda d: d["OrderStatus"] == "3")
    identity = f"{data['FrontID']}_{data['SessionID']}_{ref}"
    assert order_id(accepted) == identity
    front, session, order_ref = identity.split("_")
    client.cancel(ref=order_ref)
    assert client.session["FrontID"] == int(front) and client.session["SessionID"] == int(session)
    cancelled = client.wait_order(ref, lambda d: d["OrderStatus"] == "5")
    assert order_id(cancelled) == identity


@pytest.mark.parametrize(
    ("settings", "login_values", "error_id"),
    [
        ({}, {}, 0),
        ({}, {"Password": "wrong"}, 3),
        ({}, {"UserID": "nobody"}, 3),
        ({"broker_id": "9999"}, {"BrokerID": "9999"}, 0),
        ({"broker_id": "9999"}, {"BrokerID": "1234"}, 3),
        ({"broker_id": "9999"}, {"BrokerID": ""}, 3),
    ],
    ids=["ok", "wrong-password", "unknown-user", "broker-ok", "wrong-broker", "empty-broker"],
)
def test_login_credentials(trader_sim_factory: Callable[..., TraderSim], settings: dict[str, Any],
                           login_values: dict[str, Any], error_id: int) -> None:  # fmt: skip
    client = trader_sim_factory(**settings).client()
    client.recorder.wait_for("OnFrontConnected")
    assert client.api.ReqUserLogin(_login_field(client, **login_values), client.next_id()) == 0
    login = client.recorder.wait_for("OnRspUserLogin")
    assert login.error_id == error_id
    assert login.is_last


def test_second_login_on_one_session_is_duplicate(trader: TraderClient) -> None:
    again = trader.login()
    assert again.error_id == 5


@pytest.mark.parametrize(
    ("app_id", "auth_code", "auth_error", "login_error"),
    [
        (None, None, None, 63),  # no ReqAuthenticate at all
        ("client_test", "bad-code", 63, 63),
        ("other_app", "0000000000000000", 63, 63),
        ("client_test", "0000000000000000", 0, 0),
    ],
    ids=["no-authenticate", "wrong-auth-code", "wrong-app-id", "authenticated"],
)
def test_authentication_gates_login(
    trader_sim_factory: Callable[..., TraderSim],
    app_id: str | None,
    auth_code: str | None,
    auth_error: int | None,
    login_error: int,
) -> None:
    sim = trader_sim_factory(app_id="client_test", auth_code="0000000000000000")
    client = sim.client()
    client.recorder.wait_for("OnFrontConnected")
    if app_id is not None:
        code, request_id = _send(client, "ReqAuthenticate", "CThostFtdcReqAuthenticateField", BrokerID="9999",
                                 UserID="demo", AppID=app_id, AuthCode=auth_code)  # fmt: skip
        assert code == 0
        answer = _answer(client, "OnRspAuthenticate", request_id)
        assert answer.error_id == auth_error
        assert answer.data is not None and answer.data["AppID"] == app_id
    assert client.login().error_id == login_error


def _authenticate(client: TraderClient, since: int = 0) -> int:
    code, request_id = _send(client, "ReqAuthenticate", "CThostFtdcReqAuthenticateField", BrokerID="9999",
                             UserID="demo", AppID="client_test", AuthCode="0000000000000000")  # fmt: skip
    assert code == 0
    return _answer(client, "OnRspAuthenticate", request_id, since).error_id


def test_authentication_is_needed_again_after_a_reconnect(trader_sim_factory: Callable[..., TraderSim]) -> None:
    sim = trader_sim_factory(app_id="client_test", auth_code="0000000000000000")
    client = sim.client()
    client.recorder.wait_for("OnFrontConnected")
    assert _authenticate(client) == 0
    assert client.login().error_id == 0
    mark = client.recorder.mark()
    sim.control.drop_connections()
    client.recorder.wait_for("OnFrontConnected", start=mark)
    assert client.login().error_id == 63  # a new connection is a new session: authenticate first
    assert _authenticate(client, mark) == 0
    assert client.login().error_id == 0


def test_settlement_confirm_answers_on_its_own_callback(trader_sim: TraderSim) -> None:
    client = trader_sim.client()
    assert client.login().error_id == 0
    query = ("ReqQrySettlementInfoConfirm", "CThostFtdcQrySettlementInfoConfirmField", "OnRspQrySettlementInfoConfirm")
    (before,) = client.query(*query, BrokerID="9999", InvestorID="demo")
    assert before.data is None and before.is_last

    mark = client.recorder.mark()
    confirm = client.confirm()
    assert confirm.error_id == 0 and confirm.is_last
    assert confirm.data is not None and confirm.data["InvestorID"] == "demo"
    # The confirmation comes on OnRspSettlementInfoConfirm, never on the query's callback.
    assert [c.name for c in client.recorder.calls[mark:]] == ["OnRspSettlementInfoConfirm"]

    (after,) = client.query(*query, BrokerID="9999", InvestorID="demo")
    assert after.data is not None and after.data["ConfirmDate"] == TRADING_DAY


def test_requests_before_connect_return_minus_one(trader_sim: TraderSim, tmp_path: Path) -> None:
    api = tdapi.CThostFtdcTraderApi.CreateFtdcTraderApi(str(tmp_path / "early_"))
    api.RegisterFront(trader_sim.front)  # registered, but Init never called: no connection
    try:
        assert api.ReqUserLogin(tdapi.CThostFtdcReqUserLoginField(), 1) == -1
        assert api.ReqQryInstrument(tdapi.CThostFtdcQryInstrumentField(), 2) == -1
        assert api.ReqOrderInsert(tdapi.CThostFtdcInputOrderField(), 3) == -1
    finally:
        api.Release()

    trader_sim.control.set_unreachable(True)
    client = trader_sim.client()  # Init against an unreachable front: it never connects
    client.recorder.wait_for("OnFrontDisconnected")
    assert client.api.ReqUserLogin(_login_field(client), client.next_id()) == -1


def test_logout_ends_the_login(trader: TraderClient) -> None:
    mark = trader.recorder.mark()
    code, request_id = _send(trader, "ReqUserLogout", "CThostFtdcUserLogoutField", BrokerID="9999", UserID="demo")
    assert code == 0
    logout = _answer(trader, "OnRspUserLogout", request_id, mark)
    assert logout.error_id == 0 and logout.data is not None and logout.data["UserID"] == "demo"

    code, request_id = _send(trader, "ReqQryInvestor", "CThostFtdcQryInvestorField")
    assert code == 0
    assert _answer(trader, "OnRspQryInvestor", request_id, mark).error_id == 6
    trader.order("rb2601", "SHFE", "0", "0", 3000.0, 1)
    assert trader.recorder.wait_for("OnRspOrderInsert", start=mark).error_id == 6
    assert trader.login().error_id == 0  # the same session may log in again
    barrier(trader)
    assert trader.recorder.named("OnRtnOrder") == []


def test_password_update(trader_sim: TraderSim) -> None:
    client = trader_sim.ready_client()
    wrong = dict(BrokerID="9999", UserID="demo", OldPassword="not-it", NewPassword="s3cret")
    code, request_id = _send(client, "ReqUserPasswordUpdate", "CThostFtdcUserPasswordUpdateField", **wrong)
    assert code == 0
    refused = _answer(client, "OnRspUserPasswordUpdate", request_id)
    assert refused.error_id != 0

    right = dict(wrong, OldPassword="demo")
    code, request_id = _send(client, "ReqUserPasswordUpdate", "CThostFtdcUserPasswordUpdateField", **right)
    assert code == 0
    assert _answer(client, "OnRspUserPasswordUpdate", request_id).error_id == 0

    assert trader_sim.client().login(password="demo").error_id == 3
    assert trader_sim.client().login(password="s3cret").error_id == 0


# --- flow control of queries ------------------------------------------------------------------------
INVESTOR = ("ReqQryInvestor", "CThostFtdcQryInvestorField")


def test_query_rate_limit_answers_minus_3_then_0(trader_sim_factory: Callable[..., TraderSim]) -> None:
    rate = 1 / 3  # a 3 s window: the second query still falls inside it on a machine stalled for 2 s
    client = trader_sim_factory(query_rate=rate).ready_client()
    started = monotonic()
    code, request_id = _send(client, *INVESTOR)
    assert code == 0
    assert _answer(client, "OnRspQryInvestor", request_id).is_last
    code, _ = _send(client, *INVESTOR)
    assert code == -3  # answered, but within 1/rate of the first

    deadline = started + 1 / rate + 5.0
    pause = threading.Event()
    while code != 0 and monotonic() < deadline:
        pause.wait(0.01)
        code, request_id = _send(client, *INVESTOR)
        assert code in (0, -3)
    assert code == 0
    assert monotonic() - started >= 1 / rate - 0.01
    assert _answer(client, "OnRspQryInvestor", request_id).data is not None


def test_outstanding_query_answers_minus_2(trader_sim_factory: Callable[..., TraderSim]) -> None:
    sim = trader_sim_factory(query_rate=1000.0)
    client = sim.ready_client()
    sim.control.set_response_delay(3.0)  # long enough that a stalled machine still sends the second in time
    code, request_id = _send(client, *INVESTOR)
    assert code == 0
    code, _ = _send(client, *INVESTOR)
    assert code == -2  # the first is still outstanding
    assert _answer(client, "OnRspQryInvestor", request_id, timeout=10.0).is_last
    sim.control.set_response_delay(0.0)
    code, request_id = _send(client, *INVESTOR)
    assert code == 0
    assert _answer(client, "OnRspQryInvestor", request_id).data is not None


@pytest.mark.parametrize("not_ready", [1, 3])
def test_query_not_ready_after_login(trader_sim_factory: Callable[..., TraderSim], not_ready: int) -> None:
    client = trader_sim_factory(query_not_ready=not_ready).ready_client()
    answers = [client.query(*INVESTOR, "OnRspQryInvestor") for _ in range(not_ready + 1)]
    for calls in answers[:not_ready]:
        assert [(c.error_id, c.data, c.is_last) for c in calls] == [(90, None, True)]
    (normal,) = answers[-1]
    assert normal.error_id == 0 and normal.data is not None and normal.data["InvestorID"] == "demo"


# --- the binding's argument checks ------------------------------------------------------------------
def _order_field() -> Any:
    field = tdapi.CThostFtdcInputOrderField()
    field.InstrumentID = "rb2601"
    return field


@pytest.mark.parametrize(
    "call",
    [
        lambda api: api.ReqOrderInsert(tdapi.CThostFtdcInputOrderActionField(), 1),
        lambda api: api.ReqOrderInsert(None, 1),
        lambda api: api.ReqOrderInsert(_order_field(), 1.0),
        lambda api: api.ReqOrderInsert(_order_field(), "1"),
        lambda api: api.ReqQryInstrument(tdapi.CThostFtdcQryTradeField(), 1),
        lambda api: setattr(_order_field(), "VolumeTotalOriginal", 1.0),
        lambda api: setattr(_order_field(), "RequestID", 2.0),
        lambda api: setattr(_order_field(), "LimitPrice", "3000"),
        lambda api: setattr(_order_field(), "Direction", "01"),
        lambda api: setattr(_order_field(), "InstrumentID", "x" * 100),
        lambda api: api.SubscribePrivateTopic(0.0),
    ],
    ids=["wrong-struct", "none-struct", "float-request-id", "str-request-id", "wrong-query-struct",
         "int-field-float", "request-id-field-float", "double-field-str", "char-field-two-chars",
         "char-array-too-long", "resume-type-float"],  # fmt: skip
)
def test_arguments_are_checked_like_the_binding(trader: TraderClient, call: Callable[[Any], Any]) -> None:
    with pytest.raises(TypeError):
        call(trader.api)


def test_flow_prefix_is_a_file_name_prefix(tmp_path: Path) -> None:
    api = tdapi.CThostFtdcTraderApi.CreateFtdcTraderApi(str(tmp_path / "td_"))
    try:
        assert (tmp_path / "td_DialogRsp.con").exists()
        assert (tmp_path / "td_QueryRsp.con").exists()
        assert not (tmp_path / "td_").exists()
    finally:
        api.Release()


def test_missing_flow_directory_is_refused(tmp_path: Path) -> None:
    # The real library segfaults on a prefix whose directory does not exist; the sim refuses loudly
    # so that a client forgetting to create it fails the same tests without killing the process.
    with pytest.raises(RuntimeError, match="does not exist"):
        tdapi.CThostFtdcTraderApi.CreateFtdcTraderApi(str(tmp_path / "missing" / "td_"))


# --- the callback thread ----------------------------------------------------------------------------
def test_callback_exceptions_are_swallowed_and_release_inside_a_callback_is_refused(trader: TraderClient) -> None:
    refused: list[BaseException] = []

    def misbehave(*args: Any) -> None:
        if refused:
            return
        try:
            trader.api.Release()  # the real library deadlocks here
        except RuntimeError as error:
            refused.append(error)
        raise ValueError("a bug in a callback")  # printed and swallowed, like the binding does

    trader.spi.hooks["OnRspQryInvestor"] = misbehave
    trader.query(*INVESTOR, "OnRspQryInvestor")
    (answer,) = trader.query(*INVESTOR, "OnRspQryInvestor")  # the thread went on after the exception
    assert answer.data is not None
    assert len(refused) == 1  # the first hook has finished: callbacks run one after another


def test_callbacks_arrive_in_order_on_one_other_thread(trader_sim: TraderSim) -> None:
    client = trader_sim.ready_client()
    symbol, exchange = trader_sim.contract("m")
    refs = [client.order(symbol, exchange, "0", "0", 2800.0 - index, 1) for index in range(60)]
    client.recorder.wait_until(lambda calls: sum(c.name == "OnRtnOrder" for c in calls) >= 2 * len(refs),
                               what="two OnRtnOrder per order")  # fmt: skip
    barrier(client)
    updates = [c.data for c in client.recorder.named("OnRtnOrder") if c.data]
    assert [d["OrderRef"].strip() for d in updates if d["OrderStatus"] == "a"] == refs
    assert [d["OrderRef"].strip() for d in updates if d["OrderStatus"] == "3"] == refs
    threads = {call.thread for call in client.recorder.calls}
    assert len(threads) == 1
    assert threading.get_ident() not in threads
