"""The decorator for protected routes: a valid, unrevoked JWT or 401 "token error"."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import g, request

from auth.tokens import TokenError, token_from_header
from views.desk import desk
from views.envelope import TOKEN_ERROR, ApiError


def token_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def protected(*args: Any, **kwargs: Any) -> Any:
        try:
            g.claims = desk().tokens.verify(token_from_header(request.headers.get("Authorization")))
        except TokenError:
            raise ApiError(TOKEN_ERROR, 401) from None
        return view(*args, **kwargs)

    protected.token_required = True  # type: ignore[attr-defined]  # the route table test reads this
    return protected
