"""Accounts and access: /login, /logout, /auth_code, /status."""

from __future__ import annotations

import gevent
from flask import Blueprint, current_app

from backend.engine.engine import LoginFailed
from backend.extensions import limiter
from backend.gateway.base import LoginSettings
from views.auth_required import token_required
from views.desk import Desk, desk
from views.envelope import ApiError, envelope
from views.params import parse
from views.schemas import AuthCodeRequest, LoginRequest, LogoutRequest

blueprint = Blueprint("accounts", __name__)
LOGIN_LIMIT = "10 per minute"  # failed attempts per client address
STOP_RETRYING = (3, 63)  # bad credentials, unauthorised client: retrying would only lock the account


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
    if current.auto_login is not None and not current.auto_login.ready():
        current.auto_login.join(timeout=current.settings.LOGIN_TIMEOUT)  # a restart is logging back in
    if engine.gateway is not None:
        active = engine.login
        if active is not None and active.userid == request.userid and current.login_password == request.password:
            return envelope(current.tokens.issue(request.userid), "logged in")
        raise ApiError("another account is active: log out first", 409)
    settings = _login_settings(request, current.settings.SIM_NAME)
    try:
        connect_and_resume(current, settings)
    except LoginFailed as failure:
        status = 400 if failure.error_id > 0 else 503
        raise ApiError(f"login failed: {failure}", status, {"error_id": failure.error_id}) from None
    current.saved_login.save(settings)
    return envelope(current.tokens.issue(request.userid), "logged in")


def connect_and_resume(current: Desk, settings: LoginSettings) -> None:
    """Log in to the counter, then start again the strategies that were running."""
    current.engine.connect(settings, timeout=current.settings.LOGIN_TIMEOUT)
    current.login_password = settings.password
    if current.strategies is not None:
        current.strategies.resume()


def start_auto_login(current: Desk) -> None:
    """After a restart, log back in with the saved login (and resume strategies), retrying with back-off."""
    saved = current.saved_login.load()
    if saved is None:
        return

    def run() -> None:
        delay = 5.0
        while current.engine.gateway is None and current.saved_login.load() is not None:
            try:
                connect_and_resume(current, saved)
                current.engine.log(f"logged back in as {saved.userid} after a restart")
                return
            except LoginFailed as failure:
                current.engine.log(f"logging back in failed: {failure}", "WARNING")
                if failure.error_id in STOP_RETRYING:
                    current.saved_login.clear()
                    return
            except RuntimeError:  # someone logged in by hand meanwhile
                return
            gevent.sleep(delay)
            delay = min(delay * 2, 300.0)

    current.auto_login = gevent.spawn(run)


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
    current.saved_login.clear()
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
