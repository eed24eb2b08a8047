"""The response envelope every endpoint answers in: {"success", "msg", "data"}."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify


class ApiError(Exception):
    """An error with its HTTP status; app-level handlers turn it into the envelope."""

    def __init__(self, message: str, status: int = 400, data: Any = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.data = data


def envelope(data: Any = "", msg: str = "ok", status: int = 200) -> tuple[Response, int]:
    return jsonify(success=200 <= status < 300, msg=msg, data="" if data is None else data), status


def failure(msg: str, status: int, data: Any = "") -> tuple[Response, int]:
    return envelope(data, msg, status)


TOKEN_ERROR = "token error"  # the message clients use to go back to the login page
