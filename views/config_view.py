"""/config: the runtime settings, validated, persisted and effective at once."""

from __future__ import annotations

from flask import Blueprint
from pydantic import ValidationError

from backend.runtime import apply_runtime
from views.auth_required import token_required
from views.desk import desk
from views.envelope import ApiError, envelope
from views.params import fields, validation_message
from views.schemas import RuntimeConfig

blueprint = Blueprint("config", __name__)


@blueprint.get("/config")
@token_required
def read():
    return envelope(desk().runtime)


@blueprint.put("/config")
@token_required
def update():
    current = desk()
    changes = fields()
    unknown = sorted(set(changes) - set(RuntimeConfig.model_fields))
    if unknown:
        raise ApiError(f"{unknown[0]}: unknown setting", 400)
    try:
        validated = RuntimeConfig.model_validate({**current.runtime, **changes}).model_dump()
    except ValidationError as error:
        raise ApiError(validation_message(error), 400) from None
    current.store.save_config(validated)
    current.runtime.clear()
    current.runtime.update(validated)
    apply_runtime(current.engine.config, validated)
    return envelope(validated, "configuration saved")
