"""GET /openapi.json: every route of the app, its fields (from the pydantic models) and responses.

Built from the app's own URL map, so a route cannot be missing; request fields come from the models
that validate them, so the document cannot drift from the validation.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify
from pydantic import BaseModel

from views.lab_schemas import BacktestRequest, RunQuery, RunTarget
from views.optimise import OptimiseRequest
from views.recording import RecordingSwitch
from views.risk import KillRequest, RiskChanges
from views.schemas import (
    AuthCodeRequest,
    BarImportRequest,
    BarRequest,
    CancelRequest,
    ClosePositionRequest,
    CodeRead,
    CodeRequest,
    CodeUpload,
    ContractQuery,
    LoginRequest,
    LogoutRequest,
    OrderFields,
    RuntimeConfig,
    StrategyName,
    StrategyOperation,
    StrategyReconcile,
    SymbolsRequest,
)

blueprint = Blueprint("openapi", __name__)
PUBLIC = {"accounts.login", "health.health", "openapi.document"}

# endpoint -> (summary, request model)
DOCS: dict[str, tuple[str, type[BaseModel] | None]] = {
    "health.health": ("Liveness for load balancers and supervisors", None),
    "accounts.login": ("Log in to the counter; answers a JWT", LoginRequest),
    "accounts.logout": ("Stop strategies, disconnect, revoke every token", LogoutRequest),
    "accounts.change_access_code": ("Change the server access code; revokes every other token", AuthCodeRequest),
    "accounts.status": ("Counter, connection and strategy state", None),
    "market.subscribe": ("Subscribe instruments", SymbolsRequest),
    "market.unsubscribe": ("Unsubscribe instruments", SymbolsRequest),
    "market.subscriptions": ("Subscriptions with their latest ticks", None),
    "market.reload_contracts": ("Re-read the instrument list", None),
    "market.contracts": ("Instrument details", ContractQuery),
    "market.bars": ("Bars: [[ts_ms, open, high, low, close, volume], ...] ascending", BarRequest),
    "market.import_bars": ("Import bars from a CSV: every row valid or nothing stored (errors by line)",
                           BarImportRequest),
    "trading.overview": ("Positions, orders, trades and recent logs", None),
    "trading.send_order": ("Send an order and wait for the counter's answer", OrderFields),
    "trading.cancel_order": ("Cancel an order", CancelRequest),
    "trading.close_position": ("Close a position, split today/yesterday where needed", ClosePositionRequest),
    "trading.account": ("Account figures", None),
    "config.read": ("Runtime configuration", None),
    "config.update": ("Change runtime configuration", RuntimeConfig),
    "code_tools.check_code": ("Lint code with pylint: [{line, column, code, error, message, type}]", CodeRequest),
    "code_tools.run_code": ("Run a snippet in a sandbox: {output, exit_code, timed_out, duration_ms}", CodeRequest),
    "strategies.listing": ("Strategies with their state", None),
    "strategies.operate": ("Start or stop a strategy; a start may override the class's declared params",
                           StrategyOperation),
    "strategies.delete": ("Stop and delete a strategy", StrategyName),
    "strategies.reconcile": ("A strategy's book against the account: adopt the account's lots or flatten the "
                             "strategy's", StrategyReconcile),
    "strategies.read_code": ("A strategy's code; download=1: the .py file (text/x-python attachment)", CodeRead),
    "strategies.upload_code": ("Upload strategy code as text, or a .py file as the multipart part `file` "
                               "(restarts it if running)", CodeUpload),
    "risk.status": ("Risk limits, their counters today and how close each is to its line", None),
    "risk.update": ("Change risk limits (and per-strategy overrides); stored, in force at once", RiskChanges),
    "risk.kill": ("Kill switch: stop strategies, cancel working orders, optionally close positions", KillRequest),
    "risk.rearm": ("Re-arm the kill switch: orders accepted again", None),
    "recording.listing": ("Tick recording: instruments recorded or with recorded ticks, with counts and ranges",
                          None),
    "recording.switch": ("Switch tick recording of one instrument on or off (stored; survives a restart)",
                         RecordingSwitch),
    "sim_control.settle": ("The simulated counter's daily settlement, now (a login on the sim only)", None),
    "lab.start": ("Start a backtest of an uploaded strategy on stored bars, in its own process; data: {id}",
                  BacktestRequest),
    "lab.read": ("Backtests: the list (no id), or one whole: status, progress, statistics, trades, orders, daily "
                 "P&L, equity and drawdown", RunQuery),
    "lab.remove": ("Cancel a queued or running backtest (its process killed), or delete an ended one", RunTarget),
    "optimise.start": ("Start a sweep: a grid of a strategy's params, one backtest per point (locally in parallel, or "
                       "on the dask cluster at DASK_SCHEDULER), ranked by `target`; data: {id}", OptimiseRequest),
    "optimise.read": ("Sweeps: the list (no id), or one: its runs ranked by the target, each with params and "
                      "statistics", RunQuery),
    "optimise.remove": ("Cancel a queued or running sweep (its children killed, dask futures cancelled), or delete "
                        "an ended one", RunTarget),
    "openapi.document": ("This document", None),
}
ERRORS = {
    "400": "invalid input (msg names the field and why)",
    "401": "missing, invalid, expired or revoked token (msg 'token error')",
    "403": "wrong access code or password",
    "404": "unknown instrument, order, strategy or lab run",
    "409": "conflict: another account active, order already finished, too many lab runs waiting",
    "429": "too many attempts",
    "500": "unexpected error (trace id in msg)",
    "503": "the counter is not connected or not logged in",
}
ENVELOPE = {
    "type": "object",
    "required": ["success", "msg", "data"],
    "properties": {"success": {"type": "boolean"}, "msg": {"type": "string"}, "data": {}},
}


def build_document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {"Envelope": ENVELOPE}
    for rule in current_app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint not in DOCS:
            continue
        summary, model = DOCS[rule.endpoint]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(rule.rule, {})[method.lower()] = _operation(rule.endpoint, method, summary, model, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": "ctpdesk", "version": current_app.config["CTPDESK_VERSION"],
                 "description": "REST API of a CTP futures trading desk; every response is the envelope."},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {
            "jwt": {"type": "apiKey", "in": "header", "name": "Authorization",
                    "description": "`JWT <token>` or `Bearer <token>`"}}},
    }  # fmt: skip


def _operation(endpoint: str, method: str, summary: str, model: type[BaseModel] | None,
               schemas: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    operation: dict[str, Any] = {
        "operationId": f"{endpoint.replace('.', '_')}_{method.lower()}",
        "summary": summary,
        "responses": {"200": _response("success")} | {code: _response(text) for code, text in ERRORS.items()},
    }
    if endpoint not in PUBLIC:
        operation["security"] = [{"jwt": []}]
    if model is not None:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        reference = {"$ref": f"#/components/schemas/{model.__name__}"}
        if method in ("GET", "DELETE"):
            operation["parameters"] = [
                {"name": name, "in": "query", "required": name in schema.get("required", []), "schema": prop}
                for name, prop in schema.get("properties", {}).items()
            ]
        else:
            operation["requestBody"] = {"required": bool(schema.get("required")), "content": {
                "application/json": {"schema": reference},
                "application/x-www-form-urlencoded": {"schema": reference}}}  # fmt: skip
    return operation


def _response(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Envelope"}}}}  # fmt: skip


@blueprint.get("/openapi.json")
def document():
    return jsonify(build_document())  # the document itself, not an envelope: tools read it as it is
