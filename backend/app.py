"""The app factory: the one place that wires configuration, store, engine, auth and views."""

from __future__ import annotations

from flask import Flask
from werkzeug.exceptions import HTTPException

from lib.config import Settings, load_settings
from views import health
from views.envelope import failure

VERSION = "0.1.0"


def create_app(settings: Settings | None = None) -> Flask:
    """Build a ctpdesk app; tests pass their own Settings (temporary data directory, sim counter)."""
    settings = settings or load_settings()
    app = Flask("ctpdesk")
    app.config["CTPDESK_SETTINGS"] = settings
    app.config["CTPDESK_VERSION"] = VERSION
    app.config["JSON_AS_ASCII"] = False
    app.register_blueprint(health.blueprint)
    _register_error_handlers(app)
    return app


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        return failure(error.description or error.name, error.code or 500)

    @app.errorhandler(Exception)
    def unhandled(error: Exception):
        app.logger.exception("unhandled error")
        return failure(f"internal error: {type(error).__name__}", 500)
