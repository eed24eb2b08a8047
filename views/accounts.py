"""Accounts and access: /login, /logout, /auth_code, /status.

The three routes that check a secret share one limit of attempts per client address
(views/secret_limit.py), counted before the check.
"""

from __future__ import annotations

from flask import Blueprint, g

from backend.engine.engine import LoginFailed
from backend.gateway.base import LoginSettings
from backend.session import AnotherAccountActive, LoginRefused
from views.auth_required import token_required
from views.desk import desk
from views.envelope import ApiError, envelope
from views.params import parse
from views.schemas import AuthCodeRequest, LoginRequest, LogoutRequest
from views.secret_limit import secret_checked

blueprint = Blueprint("accounts", __name__)


@blueprint.post("/login")
@secret_checked  # the access code, and the account password when the account is active
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
@secret_checked  # the access code
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
@secret_checked  # the account password
def change_access_code():
    """Change the access code and revoke every token but the caller's: whoever held one (or guessed the
    password with one) must log in again with the new code; the page that made the change goes on."""
    request = parse(AuthCodeRequest)
    current = desk()
    if not current.session.check_password(request.password):
        raise ApiError("wrong password for the active account", 403)
    try:
        current.access.change(request.authorization)
    except ValueError as error:
        raise ApiError(str(error), 400) from None
    current.tokens.revoke_all(keep=g.claims)
    current.push.drop_revoked()
    return envelope("", "access code changed: every other token is revoked")


@blueprint.get("/status")
@token_required
def status():
    return envelope(desk().session.status())
