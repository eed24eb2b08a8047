"""Market data and instruments: /market, /contract, /bar."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gevent
from flask import Blueprint, request

from backend.engine import events
from backend.engine.main_contract import main_contracts, product_of
from backend.engine.objects import ContractData
from views.auth_required import token_required
from views.desk import desk
from views.envelope import ApiError, envelope
from views.errors import engine_errors
from views.params import parse
from views.schemas import BarImportRequest, BarRequest, ContractQuery, SymbolsRequest

if TYPE_CHECKING:
    from backend.bars_import import ImportRefused, ImportResult
    from backend.engine.constants import Interval
    from model import Store

blueprint = Blueprint("market", __name__)


def _names() -> list[str]:
    request = parse(SymbolsRequest)
    try:
        return request.names()
    except ValueError as error:
        raise ApiError(str(error), 400) from None


@blueprint.post("/market")
@token_required
def subscribe():
    names = _names()
    with engine_errors():
        return envelope(desk().engine.subscribe(names), "subscribed")


@blueprint.delete("/market")
@token_required
def unsubscribe():
    names = _names()
    with engine_errors():
        return envelope(desk().engine.unsubscribe(names), "unsubscribed")


@blueprint.get("/market")
@token_required
def subscriptions():
    engine = desk().engine
    data = []
    for name in engine.subscriptions:
        tick = engine.oms.ticks.get(name)
        data.append({"local_symbol": name, "tick": tick.to_dict() if tick else None})
    return envelope(data)


@blueprint.put("/market")
@token_required
def reload_contracts():
    engine = desk().engine
    if engine.gateway is not None and engine.connected:
        engine.gateway.reload_contracts()
    names = sorted(engine.oms.contracts)
    engine.bus.publish(events.CONTRACT, names)
    return envelope(names)


@blueprint.get("/contract")
@token_required
def contracts():
    query = parse(ContractQuery)
    oms = desk().engine.oms
    mains = {main.local_symbol for main in main_contracts(oms.contracts.values(), oms.open_interest)}
    if query.local_symbol:
        with engine_errors():
            return envelope(_contract_row(oms.contract(query.local_symbol), mains, oms.open_interest))
    listed = [
        contract
        for contract in oms.contracts.values()
        if (not query.product or product_of(contract) == query.product)
        and (not query.exchange or contract.exchange.value == query.exchange.upper())
    ]
    if query.main:
        ranked = main_contracts(listed, oms.open_interest)[: query.limit]
        return envelope([_contract_row(oms.contracts[main.local_symbol], mains, oms.open_interest) for main in ranked])
    found = [_contract_row(contract, mains, oms.open_interest) for contract in listed]
    return envelope(sorted(found, key=lambda item: item["local_symbol"]))


def _contract_row(contract: ContractData, mains: set[str], open_interest: dict[str, float]) -> dict[str, Any]:
    """A contract's details with the two figures the market watch shows: is it its product's main contract
    (the most open interest, backend/engine/main_contract.py) and that open interest."""
    return {**contract.to_dict(), "product_id": product_of(contract), "is_main": contract.local_symbol in mains,
            "open_interest": open_interest.get(contract.local_symbol, 0.0)}  # fmt: skip


@blueprint.route("/bar", methods=["GET", "POST"])
@token_required
def bars():
    request = parse(BarRequest)  # start and end: epoch ms in range (views/schemas.py epoch_ms)
    start, end = request.start, request.end
    if start is not None and end is not None and end < start:
        raise ApiError("end: must not be before start", 400)
    rows = desk().history.load(request.local_symbol, request.interval, start, end, request.limit)
    return envelope(rows)


@blueprint.post("/bar/import")
@token_required
def import_bars():
    """Bars from a CSV (backend/bars_import.py): JSON or form fields local_symbol, interval, csv; or the CSV as
    the body (text/csv) with local_symbol and interval in the query string. All rows valid or nothing stored."""
    from backend.bars_import import MAX_IMPORT_BYTES, ImportRefused

    if (request.content_length or 0) > MAX_IMPORT_BYTES + 64 * 1024:
        raise ApiError(f"the file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB: split it", 413)
    query = parse(BarImportRequest)
    text = query.csv
    if text is None and request.mimetype in ("text/csv", "text/plain"):
        text = request.get_data(as_text=True)
    if not text:
        raise ApiError("csv: the CSV text is required (a csv field, or a text/csv body)", 400)
    result = gevent.get_hub().threadpool.apply(_import_or_refusal, (desk().store, text, query.local_symbol,
                                                                     query.interval))  # fmt: skip
    if isinstance(result, ImportRefused):
        raise ApiError(str(result), 400, result.errors)
    return envelope(result.to_dict(), f"imported {result.rows} bars")


def _import_or_refusal(store: Store, text: str, local_symbol: str, interval: Interval) -> ImportResult | ImportRefused:
    """The import in a pool thread, a refusal returned rather than raised: gevent's pool prints a traceback for
    every exception a task raises, and a client sending bad files would fill the log with them."""
    from backend.bars_import import ImportRefused, import_bars

    try:
        return import_bars(store, text, local_symbol, interval)
    except ImportRefused as refused:
        return refused
