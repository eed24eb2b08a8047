"""/risk (the limits, their counters and how close each is) and /kill (the kill switch)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, get_type_hints

from flask import Blueprint
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, create_model

from backend.engine.risk_rules import RiskLimits
from views.auth_required import token_required
from views.desk import desk
from views.envelope import ApiError, envelope
from views.params import fields as request_fields
from views.params import parse, validation_message
from views.schemas import Fields, Numbers

blueprint = Blueprint("risk", __name__)

_HINTS = get_type_hints(RiskLimits)


class _RiskBase(Numbers):
    """Unknown keys refused; `true` is no count of lots (the Numbers base), a form's "20" is 20."""

    model_config = ConfigDict(extra="forbid")


# PUT /risk: any of RiskLimits' fields, and per-strategy overrides (from a form, "20" is a number; the overrides
# come only as JSON, where `true` is no count of lots).
RiskChanges: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "RiskChanges",
    __base__=_RiskBase,
    strategies=(
        dict[str, dict[str, StrictInt]] | None,
        Field(None, description="per-strategy limits: {name: {limit: n}}"),
    ),
    **{item.name: (_HINTS[item.name] | None, None) for item in fields(RiskLimits)},
)


class KillRequest(Fields):
    close_positions: bool = Field(False, description="also close every position at marketable limit prices")
    reason: str = Field("by hand", max_length=200)


@blueprint.get("/risk")
@token_required
def status():
    return envelope(desk().engine.risk.status())


@blueprint.put("/risk")
@token_required
def update():
    try:
        changes: dict[str, Any] = RiskChanges.model_validate(request_fields()).model_dump(exclude_none=True)
    except ValidationError as error:
        raise ApiError(validation_message(error), 400) from None
    strategies = changes.pop("strategies", None)
    try:
        desk().engine.risk.set_limits(changes, strategies)
    except ValueError as error:
        raise ApiError(str(error), 400) from None
    return envelope(desk().engine.risk.status(), "risk limits saved")


@blueprint.post("/kill")
@token_required
def kill():
    request = parse(KillRequest)
    outcome = desk().engine.kill(request.reason, request.close_positions)
    return envelope(outcome, "kill switch on: strategies stopped, working orders cancelled")


@blueprint.delete("/kill")
@token_required
def rearm():
    desk().engine.rearm()
    return envelope(desk().engine.risk.status(), "kill switch re-armed")
