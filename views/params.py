"""Request fields from the query string, a form body or a JSON body, validated by a pydantic model."""

from __future__ import annotations

from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, ValidationError

from views.envelope import ApiError

Model = TypeVar("Model", bound=BaseModel)


def fields() -> dict[str, Any]:
    """All three sources merged (JSON wins over form, form over the query string)."""
    merged: dict[str, Any] = {}
    merged.update(request.args.to_dict(flat=True))
    for key in request.form:
        values = request.form.getlist(key)
        merged[key] = values if len(values) > 1 else values[0]
    if request.is_json or (request.data and request.data[:1] in (b"{",)):
        body = request.get_json(silent=True)
        if body is None and request.data.strip():
            raise ApiError("the body is not valid JSON", 400)
        if body is not None and not isinstance(body, dict):
            raise ApiError("the JSON body must be an object of fields", 400)
        merged.update(body or {})
    return merged


def parse(model: type[Model]) -> Model:
    """Validate the request's fields; a 400 in the envelope naming the field and why."""
    try:
        return model.model_validate(fields())
    except ValidationError as error:
        raise ApiError(validation_message(error), 400) from None


def validation_message(error: ValidationError) -> str:
    """The first problem, naming the field: "volume: Input should be greater than 0"."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ())) or "request"
    return f"{where}: {first.get('msg', 'invalid')}"
