"""Accounts and access: /login, /logout, /auth_code, /status."""

from __future__ import annotations

from flask import Blueprint, current_app

from backend.engine.engine import LoginFailed
from backend.extensions import limiter
from backend.gateway.base import LoginSettings
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
    engine = current.engine
    if engine.gateway is not None:
        active = engine.login
        if active is not None and active.userid == request.userid and current.login_password == request.password:
            return envelope(current.tokens.issue(request.userid), "logged in")
        raise ApiError("another account is active: log out first", 409)
    settings = _login_settings(request, current.settings.SIM_NAME)
    try:
        engine.connect(settings, timeout=current.settings.LOGIN_TIMEOUT)
    except LoginFailed as failure:
        status = 400 if failure.error_id > 0 else 503
        raise ApiError(f"login failed: {failure}", status, {"error_id": failure.error_id}) from None
    current.login_password = request.password
    if current.strategies is not None:
        current.strategies.resume()
    return envelope(current.tokens.issue(request.userid), "logged in")


def _login_settings(request: LoginRequest, sim_name: str) -> LoginSettings:
    td, md = request.td_address, request.md_address
    if request.interface == "sim":
        td, md = td or f"sim://{sim_name}", md or f"sim://{sim_name}"
    elif not (td.startswith("tcp://") and md.startswith("tcp://")):
        raise ApiError("td_address and md_address (tcp://host:port) are required for ctp and tts", 400)
    return LoginSettings(
        userid=request.userid, password=request.password, brokerid=request.brokerid, appid=request.appid,
        auth_code=request.auth_code, td_address=td, md_address=md, interface=request.interface,
        product_info=request.product_info,
    )  # fmt: skip


@blueprint.post("/logout")
@token_required
def logout():
    request = parse(LogoutRequest)
    current = desk()
    if not current.access.verify(request.authorization):
        raise ApiError("wrong access code", 403)
    if current.strategies is not None:
        current.strategies.stop_all()
    current.engine.disconnect()
    current.login_password = ""
    current.tokens.revoke_all()
    current.push.disconnect_all()
    return envelope("", "logged out")


@blueprint.route("/auth_code", methods=["PUT", "POST"])
@token_required
def change_access_code():
    request = parse(AuthCodeRequest)
    current = desk()
    if not current.login_password or request.password != current.login_password:
        raise ApiError("wrong password for the active account", 403)
    try:
        current.access.change(request.authorization)
    except ValueError as error:
        raise ApiError(str(error), 400) from None
    return envelope("", "access code changed")


@blueprint.get("/status")
@token_required
def status():
    return envelope(status_data())


def status_data() -> dict:
    current = desk()
    data = current.engine.status()
    running = current.strategies.running_names() if current.strategies is not None else []
    data.update(strategies_running=running, version=current_app.config["CTPDESK_VERSION"])
    return data
