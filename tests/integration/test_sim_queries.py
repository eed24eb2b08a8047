"""Every query the sim serves answers with rows of the right struct and exactly one bIsLast."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.ctpclient import Call, TraderClient
from tests.integration.trader_sim import TraderSim, fill_order

Rows = list[dict[str, Any]]
Check = Callable[[Rows, dict[str, Any]], None]


@pytest.fixture
def busy(trader_sim: TraderSim) -> tuple[TraderClient, dict[str, Any]]:
    """A client holding one rb lot (one trade) and one resting m order; returns it and the facts."""
    client = trader_sim.ready_client()
    rb, _ = trader_sim.contract("rb")
    m, m_exchange = trader_sim.contract("m")
    trader_sim.control.set_price(rb, 3200.0)
    filled = fill_order(client, rb, "SHFE", "0", "0")
    client.wait_order(client.order(m, m_exchange, "0", "0", 2800.0, 2), lambda d: d["OrderStatus"] == "3")
    (trade,) = [c.data for c in client.recorder.named("OnRtnTrade")]
    specs = trader_sim.control.specs
    return client, {"rb": rb, "m": m, "sys_id": filled["OrderSysID"], "trade_id": trade["TradeID"],
                    "specs": specs, "dce_count": sum(s.exchange == "DCE" for s in specs.values())}  # fmt: skip


def _one(check: Callable[[dict[str, Any], dict[str, Any]], bool]) -> Check:
    def run(rows: Rows, facts: dict[str, Any]) -> None:
        assert len(rows) == 1, rows
        assert check(rows[0], facts), rows[0]

    return run


def _all(count: Callable[[dict[str, Any]], int], check: Callable[[dict[str, Any], dict[str, Any]], bool]) -> Check:
    def run(rows: Rows, facts: dict[str, Any]) -> None:
        assert len(rows) == count(facts)
        assert all(check(row, facts) for row in rows)

    return run


# (Req* method, its struct, Spi callback, the answer's struct, request values ({rb}/{m} filled in), check)
QUERIES: list[tuple[str, str, str, str, dict[str, Any], Check]] = [
    ("ReqQryInstrument", "CThostFtdcQryInstrumentField", "OnRspQryInstrument", "CThostFtdcInstrumentField",
     {"InstrumentID": "{rb}"}, _one(lambda r, f: r["InstrumentID"] == f["rb"] and r["ExchangeID"] == "SHFE"
                                    and r["VolumeMultiple"] == 10 and r["PriceTick"] == 1.0)),
    ("ReqQryInstrument", "CThostFtdcQryInstrumentField", "OnRspQryInstrument", "CThostFtdcInstrumentField",
     {"ExchangeID": "DCE"}, _all(lambda f: f["dce_count"], lambda r, f: r["ExchangeID"] == "DCE")),
    ("ReqQryInstrument", "CThostFtdcQryInstrumentField", "OnRspQryInstrument", "CThostFtdcInstrumentField",
     {"ProductID": "rb"}, _all(lambda f: 3, lambda r, f: r["ProductID"] == "rb" and r["ProductClass"] == "1")),
    ("ReqQryInstrument", "CThostFtdcQryInstrumentField", "OnRspQryInstrument", "CThostFtdcInstrumentField",
     {}, _all(lambda f: len(f["specs"]), lambda r, f: r["InstrumentID"] in f["specs"])),
    ("ReqQryExchange", "CThostFtdcQryExchangeField", "OnRspQryExchange", "CThostFtdcExchangeField",
     {}, _all(lambda f: 6, lambda r, f: r["ExchangeID"] in {"SHFE", "INE", "DCE", "CZCE", "CFFEX", "GFEX"})),
    ("ReqQryExchange", "CThostFtdcQryExchangeField", "OnRspQryExchange", "CThostFtdcExchangeField",
     {"ExchangeID": "CZCE"}, _one(lambda r, f: r["ExchangeID"] == "CZCE")),
    ("ReqQryProduct", "CThostFtdcQryProductField", "OnRspQryProduct", "CThostFtdcProductField",
     {"ProductID": "cu"}, _one(lambda r, f: r["ExchangeID"] == "SHFE" and r["PositionDateType"] == "1")),
    ("ReqQryProduct", "CThostFtdcQryProductField", "OnRspQryProduct", "CThostFtdcProductField",
     {"ProductID": "m"}, _one(lambda r, f: r["ExchangeID"] == "DCE" and r["PositionDateType"] == "2")),
    ("ReqQryDepthMarketData", "CThostFtdcQryDepthMarketDataField", "OnRspQryDepthMarketData",
     "CThostFtdcDepthMarketDataField", {"InstrumentID": "{rb}"},
     _one(lambda r, f: r["InstrumentID"] == f["rb"] and r["LastPrice"] == 3200.0)),
    ("ReqQryDepthMarketData", "CThostFtdcQryDepthMarketDataField", "OnRspQryDepthMarketData",
     "CThostFtdcDepthMarketDataField", {"InstrumentID": "{m}"},  # nothing traded yet: unset prices are DBL_MAX
     _one(lambda r, f: r["LastPrice"] == r["OpenPrice"] == r["SettlementPrice"] == 1.7976931348623157e308)),
    ("ReqQryTradingAccount", "CThostFtdcQryTradingAccountField", "OnRspQryTradingAccount",
     "CThostFtdcTradingAccountField", {}, _one(lambda r, f: r["AccountID"] == "demo" and r["CurrMargin"] > 0
                                                  and r["FrozenMargin"] > 0 and r["Commission"] > 0)),
    ("ReqQryInvestor", "CThostFtdcQryInvestorField", "OnRspQryInvestor", "CThostFtdcInvestorField",
     {}, _one(lambda r, f: r["InvestorID"] == "demo")),
    ("ReqQryTradingCode", "CThostFtdcQryTradingCodeField", "OnRspQryTradingCode", "CThostFtdcTradingCodeField",
     {}, _all(lambda f: 6, lambda r, f: r["ClientID"] == "demo")),
    ("ReqQryInvestorPosition", "CThostFtdcQryInvestorPositionField", "OnRspQryInvestorPosition",
     "CThostFtdcInvestorPositionField", {}, _one(lambda r, f: (r["InstrumentID"], r["PosiDirection"], r["Position"],
                                                               r["TodayPosition"]) == (f["rb"], "2", 1, 1))),
    ("ReqQryInvestorPositionDetail", "CThostFtdcQryInvestorPositionDetailField", "OnRspQryInvestorPositionDetail",
     "CThostFtdcInvestorPositionDetailField", {"InstrumentID": "{rb}"},
     _one(lambda r, f: r["Volume"] == 1 and r["TradeID"].strip() == f["trade_id"].strip())),
    ("ReqQryOrder", "CThostFtdcQryOrderField", "OnRspQryOrder", "CThostFtdcOrderField",
     {}, _all(lambda f: 2, lambda r, f: r["OrderStatus"] in "03")),
    ("ReqQryOrder", "CThostFtdcQryOrderField", "OnRspQryOrder", "CThostFtdcOrderField",
     {"InstrumentID": "{rb}"}, _one(lambda r, f: r["OrderSysID"] == f["sys_id"] and r["OrderStatus"] == "0")),
    ("ReqQryTrade", "CThostFtdcQryTradeField", "OnRspQryTrade", "CThostFtdcTradeField",
     {}, _one(lambda r, f: r["TradeID"] == f["trade_id"] and r["OrderSysID"] == f["sys_id"])),
    ("ReqQryInstrumentMarginRate", "CThostFtdcQryInstrumentMarginRateField", "OnRspQryInstrumentMarginRate",
     "CThostFtdcInstrumentMarginRateField", {"InstrumentID": "{rb}", "HedgeFlag": "1"},
     _one(lambda r, f: r["LongMarginRatioByMoney"] == f["specs"][f["rb"]].long_margin_ratio)),
    ("ReqQryExchangeMarginRate", "CThostFtdcQryExchangeMarginRateField", "OnRspQryExchangeMarginRate",
     "CThostFtdcExchangeMarginRateField", {"InstrumentID": "{rb}", "HedgeFlag": "1"},
     _one(lambda r, f: r["InstrumentID"] == f["rb"] and r["ShortMarginRatioByMoney"] > 0)),
    ("ReqQryInstrumentCommissionRate", "CThostFtdcQryInstrumentCommissionRateField",
     "OnRspQryInstrumentCommissionRate", "CThostFtdcInstrumentCommissionRateField", {"InstrumentID": "{m}"},
     _one(lambda r, f: r["InstrumentID"] == f["m"] and r["OpenRatioByVolume"] == 1.5)),
    ("ReqQryInstrumentOrderCommRate", "CThostFtdcQryInstrumentOrderCommRateField", "OnRspQryInstrumentOrderCommRate",
     "CThostFtdcInstrumentOrderCommRateField", {"InstrumentID": "{rb}"},
     _one(lambda r, f: r["InstrumentID"] == f["rb"])),
    ("ReqQryMaxOrderVolume", "CThostFtdcQryMaxOrderVolumeField", "OnRspQryMaxOrderVolume",
     "CThostFtdcQryMaxOrderVolumeField", {"InstrumentID": "{rb}", "Direction": "0", "OffsetFlag": "0",
                                          "HedgeFlag": "1"}, _one(lambda r, f: r["MaxVolume"] > 10)),
    ("ReqQryMaxOrderVolume", "CThostFtdcQryMaxOrderVolumeField", "OnRspQryMaxOrderVolume",
     "CThostFtdcQryMaxOrderVolumeField", {"InstrumentID": "{rb}", "Direction": "1", "OffsetFlag": "3",
                                          "HedgeFlag": "1"}, _one(lambda r, f: r["MaxVolume"] == 1)),
]  # fmt: skip

# Queries whose answer is empty: one callback, data None, bIsLast True.
EMPTY: list[tuple[str, str, str, dict[str, Any]]] = [
    ("ReqQryInstrument", "CThostFtdcQryInstrumentField", "OnRspQryInstrument", {"InstrumentID": "zz9999"}),
    ("ReqQryInstrument", "CThostFtdcQryInstrumentField", "OnRspQryInstrument", {"ExchangeID": "NOPE"}),
    ("ReqQryExchange", "CThostFtdcQryExchangeField", "OnRspQryExchange", {"ExchangeID": "NOPE"}),
    ("ReqQryProduct", "CThostFtdcQryProductField", "OnRspQryProduct", {"ProductID": "zz"}),
    ("ReqQryDepthMarketData", "CThostFtdcQryDepthMarketDataField", "OnRspQryDepthMarketData",
     {"InstrumentID": "zz9999"}),
    ("ReqQryInvestorPosition", "CThostFtdcQryInvestorPositionField", "OnRspQryInvestorPosition",
     {"InstrumentID": "{m}"}),
    ("ReqQryInvestorPositionDetail", "CThostFtdcQryInvestorPositionDetailField", "OnRspQryInvestorPositionDetail",
     {"InstrumentID": "{m}"}),
    ("ReqQryOrder", "CThostFtdcQryOrderField", "OnRspQryOrder", {"InstrumentID": "zz9999"}),
    ("ReqQryTrade", "CThostFtdcQryTradeField", "OnRspQryTrade", {"InstrumentID": "{m}"}),
    ("ReqQryInstrumentMarginRate", "CThostFtdcQryInstrumentMarginRateField", "OnRspQryInstrumentMarginRate",
     {"InstrumentID": "zz9999"}),
    ("ReqQryInstrumentCommissionRate", "CThostFtdcQryInstrumentCommissionRateField",
     "OnRspQryInstrumentCommissionRate", {"InstrumentID": "zz9999"}),
    ("ReqQryOptionInstrTradeCost", "CThostFtdcQryOptionInstrTradeCostField", "OnRspQryOptionInstrTradeCost", {}),
    ("ReqQryOptionInstrCommRate", "CThostFtdcQryOptionInstrCommRateField", "OnRspQryOptionInstrCommRate", {}),
    ("ReqQryMaxOrderVolume", "CThostFtdcQryMaxOrderVolumeField", "OnRspQryMaxOrderVolume",
     {"InstrumentID": "zz9999"}),
]  # fmt: skip


def _values(values: dict[str, Any], facts: dict[str, Any]) -> dict[str, Any]:
    return {key: value.format(**facts) if isinstance(value, str) else value for key, value in values.items()}


def _assert_one_last(calls: list[Call]) -> None:
    assert [call.is_last for call in calls] == [False] * (len(calls) - 1) + [True]
    assert all(call.error_id == 0 for call in calls)


@pytest.mark.parametrize(
    ("method", "struct", "callback", "answer", "values", "check"), QUERIES,
    ids=[f"{q[0]}-{'-'.join(map(str, q[4].values())) or 'all'}" for q in QUERIES],
)  # fmt: skip
def test_query_answers_rows_of_its_struct(
    busy: tuple[TraderClient, dict[str, Any]],
    method: str,
    struct: str,
    callback: str,
    answer: str,
    values: dict[str, Any],
    check: Check,
) -> None:
    client, facts = busy
    calls = client.query(method, struct, callback, BrokerID="9999", InvestorID="demo", **_values(values, facts))
    _assert_one_last(calls)
    assert {type(call.args[0]).__name__ for call in calls} == {answer}
    check([call.data for call in calls if call.data is not None], facts)


@pytest.mark.parametrize(("method", "struct", "callback", "values"), EMPTY,
                         ids=[f"{q[0]}-{'-'.join(map(str, q[3].values())) or 'all'}" for q in EMPTY])  # fmt: skip
def test_empty_query_answers_once_with_none(busy: tuple[TraderClient, dict[str, Any]], method: str, struct: str,
                                            callback: str, values: dict[str, Any]) -> None:  # fmt: skip
    client, facts = busy
    calls = client.query(method, struct, callback, BrokerID="9999", InvestorID="demo", **_values(values, facts))
    assert [(call.data, call.is_last, call.error_id) for call in calls] == [(None, True, 0)]
    assert calls[0].args[0] is None


# Query conditions besides InstrumentID: (method, struct, callback, values, rows expected)
FILTERS = [
    pytest.param("ReqQryOrder", "CThostFtdcQryOrderField", "OnRspQryOrder",
                 {"ExchangeID": "SHFE", "OrderSysID": "{sys_id}"}, 1, id="order-by-sys-id"),
    pytest.param("ReqQryOrder", "CThostFtdcQryOrderField", "OnRspQryOrder",
                 {"ExchangeID": "DCE"}, 1, id="orders-by-exchange"),
    pytest.param("ReqQryTrade", "CThostFtdcQryTradeField", "OnRspQryTrade",
                 {"ExchangeID": "DCE"}, 0, id="trades-by-exchange"),
    pytest.param("ReqQryInvestorPosition", "CThostFtdcQryInvestorPositionField", "OnRspQryInvestorPosition",
                 {"ExchangeID": "DCE"}, 0, id="positions-by-exchange"),
    pytest.param("ReqQryInvestorPosition", "CThostFtdcQryInvestorPositionField", "OnRspQryInvestorPosition",
                 {"ExchangeID": "SHFE"}, 1, id="positions-by-own-exchange"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "struct", "callback", "values", "count"), FILTERS)
def test_query_conditions_filter_rows(busy: tuple[TraderClient, dict[str, Any]], method: str, struct: str,
                                      callback: str, values: dict[str, Any], count: int) -> None:  # fmt: skip
    client, facts = busy
    calls = client.query(method, struct, callback, BrokerID="9999", InvestorID="demo", **_values(values, facts))
    assert len([call for call in calls if call.data is not None]) == count


def test_new_account_has_no_orders_trades_or_positions(trader: TraderClient) -> None:
    for method, struct, callback in [
        ("ReqQryOrder", "CThostFtdcQryOrderField", "OnRspQryOrder"),
        ("ReqQryTrade", "CThostFtdcQryTradeField", "OnRspQryTrade"),
        ("ReqQryInvestorPosition", "CThostFtdcQryInvestorPositionField", "OnRspQryInvestorPosition"),
    ]:
        assert [(c.data, c.is_last) for c in trader.query(method, struct, callback)] == [(None, True)]


@pytest.mark.parametrize(
    ("method", "struct", "callback", "answer"),
    [
        ("ReqQryOptionInstrTradeCost", "CThostFtdcQryOptionInstrTradeCostField", "OnRspQryOptionInstrTradeCost",
         "CThostFtdcOptionInstrTradeCostField"),
        ("ReqQryOptionInstrCommRate", "CThostFtdcQryOptionInstrCommRateField", "OnRspQryOptionInstrCommRate",
         "CThostFtdcOptionInstrCommRateField"),
    ],
)  # fmt: skip
def test_option_rate_queries_on_the_full_market(trader_sim_factory: Callable[..., TraderSim], method: str,
                                                struct: str, callback: str, answer: str) -> None:  # fmt: skip
    sim = trader_sim_factory(market="full", full_market_size=300)
    option = next(s.symbol for s in sim.control.specs.values() if s.is_option)
    calls = sim.ready_client().query(method, struct, callback, InstrumentID=option)
    _assert_one_last(calls)
    assert len(calls) == 1 and type(calls[0].args[0]).__name__ == answer
    assert calls[0].data is not None and calls[0].data["InstrumentID"] == option
