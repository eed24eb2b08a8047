"""`@secret_checked`: the one limit on every route that checks a secret (/login, /logout, /auth_code).

The attempt is counted (auth/attempts.py) before the view runs, keyed by the client address (the real one
behind nginx: app.py applies ProxyFix when BEHIND_PROXY); a 200 gives it back. A refusal answers 429 in the
envelope with a Retry-After header, having checked nothing and hashed nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Response, make_response, request

from auth.attempts import TooManyAttempts, attempts
from views.envelope import failure


def secret_checked(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def limited(*args: Any, **kwargs: Any) -> Any:
        try:
            attempt = attempts.begin(request.remote_addr or "")
        except TooManyAttempts as refusal:
            return _refused(refusal)
        with attempt:  # an exception (an ApiError: 403, 400...) leaves the attempt counted
            response = make_response(view(*args, **kwargs))
            if response.status_code == 200:
                attempt.succeeded()
            return response

    return limited


def _refused(refusal: TooManyAttempts) -> Response:
    response, status = failure(refusal.message, 429)
    response.status_code = status
    response.headers["Retry-After"] = str(refusal.retry_after)
    return response
