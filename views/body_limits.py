"""How large a request body may be, by path: one answer for run.py's server, the app and nginx.

run.py's server refuses a declared Content-Length over the limit before it reads a byte of the body
(413 in the envelope), and holds a chunked body, which has no length to declare, to the same limit
as the app reads it (run.py's _CappedInput raises RequestEntityTooLarge one byte past it, answered
here with the same 413). Elsewhere (uWSGI) the app sets werkzeug's `request.max_content_length`:
a declared length over it is a 413 too, behind nginx's `client_max_body_size` per location
(deploy/nginx.conf has the same numbers).
"""

from __future__ import annotations

from flask import Flask, request
from werkzeug.exceptions import RequestEntityTooLarge

from backend.bars_import import MAX_IMPORT_BYTES
from lib.config import Settings
from views.envelope import failure

CODE_PATHS = frozenset(("/code", "/check_code", "/run_code"))  # strategy code: up to 200,000 characters
IMPORT_PATH = "/bar/import"
IMPORT_SLACK = 64 * 1024  # the fields around the CSV, as views/market.py's own check allows
BODY_CAPPED = "ctpdesk.body_capped"  # in the WSGI environ: the server's input stream enforces the limit


def body_limit(path: str, settings: Settings) -> int | None:
    """The most bytes a request body to `path` may have; None: no limit (MAX_BODY 0)."""
    if path == IMPORT_PATH:
        return MAX_IMPORT_BYTES + IMPORT_SLACK
    limit = settings.MAX_CODE_BODY if path in CODE_PATHS else settings.MAX_BODY
    return limit or None


def too_large_message(limit: int) -> str:
    return f"request body too large: at most {limit:,} bytes here"


def init_app(app: Flask, settings: Settings) -> None:
    """Set each request's body limit by its path, and answer the limit's 413 in the envelope."""

    @app.before_request
    def limit_body() -> None:
        if not request.environ.get(BODY_CAPPED):  # werkzeug would cut a chunked body short, silently
            request.max_content_length = body_limit(request.path, settings)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_error: RequestEntityTooLarge):
        limit = body_limit(request.path, settings)
        return failure(too_large_message(limit) if limit else "request body too large", 413)
