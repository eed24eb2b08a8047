"""Strategies: /strategy (list, start/stop with params, delete), /strategy/reconcile and /code (read,
download, save as JSON text or upload as a .py file)."""

from __future__ import annotations

from flask import Blueprint, Response
from flask import request as http
from werkzeug.exceptions import RequestEntityTooLarge

from backend.strategy_runtime.manager import StrategyError, StrategyRunning
from model import NotFound
from views.auth_required import token_required
from views.desk import desk
from views.envelope import ApiError, envelope
from views.errors import engine_errors
from views.params import parse
from views.schemas import CodeFileName, CodeRead, CodeUpload, StrategyName, StrategyOperation, StrategyReconcile

blueprint = Blueprint("strategies", __name__)
MAX_CODE_CHARS = 200_000  # as CodeUpload.text: an uploaded file is held to the same size
MAX_CODE_BYTES = MAX_CODE_CHARS * 4  # UTF-8 takes at most 4 bytes a character
FORM_OVERHEAD = 64 * 1024  # the multipart boundaries and headers around the file


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
            manager.start(request.name, request.params)
        elif request.operation == "params":
            if request.params is None:
                raise ApiError("params: required to save them", 400)
            manager.save_params(request.name, request.params)
        else:
            manager.stop(request.name, cancel_orders=request.cancel_orders)
    except NotFound:
        raise ApiError(f"unknown strategy {request.name}", 404) from None
    except StrategyRunning as error:
        raise ApiError(str(error), 409) from None
    except StrategyError as error:
        raise ApiError(str(error), 400) from None
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
    """The code in the envelope; with download=1 the file itself, named by the (validated) strategy name."""
    request = parse(CodeRead)
    try:
        record = desk().store.get_strategy(request.name)
    except NotFound:
        raise ApiError(f"unknown strategy {request.name}", 404) from None
    if request.download:
        response = Response(record.text, mimetype="text/x-python")
        response.headers["Content-Disposition"] = f'attachment; filename="{record.name}.py"'
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response
    return envelope({"name": record.name, "text": record.text, "updated_at": record.updated_at})


@blueprint.post("/code")
@token_required
def upload_code():
    """Save code: `text` (JSON or form), or a .py file as the multipart part `file`."""
    if http.mimetype == "multipart/form-data":
        _limit_form()
    if http.mimetype == "multipart/form-data" and "file" in http.files:
        text, name = _uploaded_file(), parse(CodeFileName).name
    else:
        request = parse(CodeUpload)
        text, name = request.text, request.name
    try:
        name = _manager().save_code(text, name)
    except StrategyError as error:
        raise ApiError(str(error), 400) from None
    return envelope(_one(name), "saved")


def _limit_form() -> None:
    """Refuse an oversized form before werkzeug parses (and spools) it, with or without a Content-Length."""
    if (http.content_length or 0) > MAX_CODE_BYTES + FORM_OVERHEAD:
        raise ApiError(f"file: larger than {MAX_CODE_CHARS} characters", 413)
    http.max_content_length = MAX_CODE_BYTES + FORM_OVERHEAD
    try:
        http.files  # noqa: B018 - parsed here, under the limit
    except RequestEntityTooLarge:
        raise ApiError(f"file: larger than {MAX_CODE_CHARS} characters", 413) from None


def _uploaded_file() -> str:
    """The uploaded file's text: UTF-8 (a BOM is dropped), at most MAX_CODE_CHARS characters. Its file name
    only has to end in .py; it never names anything here."""
    upload = http.files["file"]
    if upload.filename and not upload.filename.lower().endswith(".py"):
        raise ApiError("file: a Python source file (.py)", 400)
    data = upload.stream.read(MAX_CODE_BYTES + 1)
    if len(data) > MAX_CODE_BYTES:
        raise ApiError(f"file: larger than {MAX_CODE_CHARS} characters", 413)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApiError("file: not UTF-8 text", 400) from None
    if len(text) > MAX_CODE_CHARS:
        raise ApiError(f"file: larger than {MAX_CODE_CHARS} characters", 413)
    if not text.strip():
        raise ApiError("file: empty", 400)
    return text


def _one(name: str) -> dict:
    return next(item for item in _manager().listing() if item["name"] == name)
