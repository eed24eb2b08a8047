"""The response envelope every endpoint answers in: {"success", "msg", "data"}."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify


def envelope(data: Any = "", msg: str = "ok", status: int = 200) -> tuple[Response, int]:
    return jsonify(success=200 <= status < 300, msg=msg, data="" if data is None else data), status


def failure(msg: str, status: int, data: Any = "") -> tuple[Response, int]:
    return envelope(data, msg, status)
