"""Accounts and access: /login, /logout, /auth_code, /status."""

from __future__ import annotations

from flask import Blueprint

from backend.engine.engine import LoginFailed
from backend.extensions import limiter
from backend.gateway.base import LoginSettings
from backend.session import AnotherAccountActive, LoginRefused
from views.auth_required import token_required
from views.desk import desk
from views.envelope import ApiError, envelope
from views.params import parse
from views.schemas import AuthCodeRequest, LoginRequest, LogoutRequest

blueprint = Blueprint("accounts", __name__)
LOGIN_LIMIT = "10 per minute"  # failed attempts per client address


def _failed(response: object) -> bool:
    return getattr(response, "status_code", 200) != 200


@blueprint.post("/login")
@limiter.limit(LOGIN_LIMIT, deduct_when=_failed)
def login():
    request = parse(LoginRequest)
    current = desk()
    if not current.access.verify(request.authorization):
        raise ApiError("wrong access code", 403)
    try:
        current.session.log_in(_login_settings(request))
    except AnotherAccountActive as error:
        raise ApiError(str(error), 409) from None
    except LoginRefused as error:
        raise ApiError(str(error), 400) from None
    except LoginFailed as failure:
        status = 400 if failure.error_id > 0 else 503
        raise ApiError(f"login failed: {failure}", status, {"error_id": failure.error_id}) from None
    return envelope(current.tokens.issue(request.userid), "logged in")


def _login_settings(request: LoginRequest) -> LoginSettings:
    return LoginSettings(
        userid=request.userid, password=request.password, brokerid=request.brokerid, appid=request.appid,
        auth_code=request.auth_code, td_address=request.td_address, md_address=request.md_address,
        interface=request.interface, product_info=request.product_info,
    )  # fmt: skip


@blueprint.post("/logout")
@token_required
def logout():
    request = parse(LogoutRequest)
    current = desk()
    if not current.access.verify(request.authorization):
        raise ApiError("wrong access code", 403)
    current.session.log_out()
    current.tokens.revoke_all()
    current.push.disconnect_all()
    return envelope("", "logged out")


@blueprint.route("/auth_code", methods=["PUT", "POST"])
@token_required
def change_access_code():
    request = parse(AuthCodeRequest)
    current = desk()
    if not current.session.check_password(request.password):
        raise ApiError("wrong password for the active account", 403)
    try:
        current.access.change(request.authorization)
    except ValueError as error:
        raise ApiError(str(error), 400) from None
    return envelope("", "access code changed")


@blueprint.get("/status")
@token_required
def status():
    return envelope(desk().session.status())
