"""Strategies: /strategy (list, start/stop, delete), /strategy/reconcile and /code (read, upload)."""

from __future__ import annotations

from flask import Blueprint

from backend.strategy_runtime.manager import StrategyError
from model import NotFound
from views.auth_required import token_required
from views.desk import desk
from views.envelope import ApiError, envelope
from views.errors import engine_errors
from views.params import parse
from views.schemas import CodeUpload, StrategyName, StrategyOperation, StrategyReconcile

blueprint = Blueprint("strategies", __name__)


def _manager():
    return desk().strategies


@blueprint.get("/strategy")
@token_required
def listing():
    return envelope(_manager().listing())


@blueprint.put("/strategy")
@token_required
def operate():
    request = parse(StrategyOperation)
    manager = _manager()
    try:
        if request.operation == "start":
            if not desk().engine.connected:
                raise ApiError("log in to a counter before starting a strategy", 503)
            manager.start(request.name)
        else:
            manager.stop(request.name, cancel_orders=request.cancel_orders)
    except NotFound:
        raise ApiError(f"unknown strategy {request.name}", 404) from None
    return envelope(_one(request.name), f"{request.operation} done")


@blueprint.delete("/strategy")
@token_required
def delete():
    request = parse(StrategyName)
    try:
        _manager().delete(request.name)
    except NotFound:
        raise ApiError(f"unknown strategy {request.name}", 404) from None
    return envelope("", "deleted")


@blueprint.post("/strategy/reconcile")
@token_required
def reconcile():
    """A strategy's book against the account: adopt the account's lots, or flatten the strategy's."""
    request = parse(StrategyReconcile)
    try:
        with engine_errors():
            outcome = _manager().reconcile(request.name, request.action)
    except NotFound:
        raise ApiError(f"unknown strategy {request.name}", 404) from None
    except StrategyError as error:
        raise ApiError(str(error), 400) from None
    return envelope(outcome, f"{request.name}: {request.action} done")


@blueprint.get("/code")
@token_required
def read_code():
    request = parse(StrategyName)
    try:
        record = desk().store.get_strategy(request.name)
    except NotFound:
        raise ApiError(f"unknown strategy {request.name}", 404) from None
    return envelope({"name": record.name, "text": record.text, "updated_at": record.updated_at})


@blueprint.post("/code")
@token_required
def upload_code():
    request = parse(CodeUpload)
    try:
        name = _manager().save_code(request.text, request.name)
    except StrategyError as error:
        raise ApiError(str(error), 400) from None
    return envelope(_one(name), "saved")


def _one(name: str) -> dict:
    return next(item for item in _manager().listing() if item["name"] == name)
