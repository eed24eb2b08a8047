"""GET /health: for load balancers and supervisors; needs no token."""

from __future__ import annotations

from flask import Blueprint, current_app

from views.envelope import envelope

blueprint = Blueprint("health", __name__)


@blueprint.get("/health")
def health():
    return envelope({"status": "ok", "version": current_app.config["CTPDESK_VERSION"]})
