"""The desk's counter session: who is logged in, and how a login starts, comes back and ends.

One server holds one account. Logging in connects the engine to the counter, starts again the
strategies that were running and saves the login (encrypted) so that a restarted server logs itself
back in without anyone at a browser; logging out undoes all three. The web layer only checks the
access code, hands in the login and answers; tokens stay its business.
"""

from __future__ import annotations

import hmac
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import gevent
from gevent.event import Event

from backend.engine.engine import LoginFailed
from backend.gateway.base import LoginSettings

if TYPE_CHECKING:
    from auth.saved_login import SavedLogin
    from backend.engine.engine import MainEngine
    from backend.strategy_runtime.manager import StrategyManager

STOP_RETRYING = (3, 63)  # bad credentials, unauthorised client: retrying would only lock the account
RETRY_FIRST = 5.0  # seconds before the first retry of a login after a restart ...
RETRY_MOST = 300.0  # ... doubling up to this


class AnotherAccountActive(RuntimeError):
    """A login for an account other than the one logged in (409): one server holds one account."""


class LoginRefused(ValueError):
    """The login cannot be tried as given (400): a real counter needs its front addresses."""


class CounterSession:
    def __init__(self, engine: MainEngine, strategies: StrategyManager, saved_login: SavedLogin,
                 sim_name: str, login_timeout: float, version: str) -> None:  # fmt: skip
        self.engine = engine
        self.strategies = strategies
        self.saved_login = saved_login
        self.sim_name = sim_name  # the embedded counter a `sim` login without addresses reaches
        self.login_timeout = login_timeout
        self.version = version
        self.auto_login: gevent.Greenlet | None = None  # logging back in after a restart, while it runs
        self._give_up = Event()  # set by logout and shutdown: the auto-login retries no more
        self._password = ""  # the active login's; PUT /auth_code asks for it

    # --- logging in and out ---------------------------------------------------------------------
    def log_in(self, login: LoginSettings) -> None:
        """Log in, or accept the active account again (its caller issues a new token either way).

        Raises AnotherAccountActive, LoginRefused, or LoginFailed (the counter said no; error_id > 0
        when it answered, else it could not be reached).
        """
        pending = self._pending_auto_login()
        if pending is not None:
            pending.join(timeout=self.login_timeout)  # a restart is logging back in
        if self.engine.gateway is not None:
            active = self.engine.login
            if active is not None and active.userid == login.userid and self.check_password(login.password):
                return
            raise AnotherAccountActive("another account is active: log out first")
        self._connect_and_resume(login)
        self.saved_login.save(login)  # as given: a `sim` login without addresses means whichever sim is embedded

    def log_out(self) -> None:
        """Stop the strategies, leave the counter and forget the saved login: a restart stays out."""
        self._give_up.set()
        pending = self._pending_auto_login()
        if pending is not None:  # a login under way finishes first, then is undone below
            pending.join(timeout=self.login_timeout)
        self.strategies.stop_all()
        self.engine.disconnect()
        self.saved_login.clear()
        self._password = ""

    def check_password(self, password: str) -> bool:
        """Tell whether `password` is the active login's (False when nobody is logged in)."""
        return bool(self._password) and hmac.compare_digest(password.encode(), self._password.encode())

    def status(self) -> dict[str, Any]:
        """The engine's status with the strategies running and the server's version (GET /status)."""
        data = self.engine.status()
        data.update(strategies_running=self.strategies.running_names(), version=self.version)
        return data

    def _with_addresses(self, login: LoginSettings) -> LoginSettings:
        td, md = login.td_address, login.md_address
        if login.interface == "sim":
            return replace(login, td_address=td or f"sim://{self.sim_name}", md_address=md or f"sim://{self.sim_name}")
        if not (td.startswith("tcp://") and md.startswith("tcp://")):
            raise LoginRefused("td_address and md_address (tcp://host:port) are required for ctp and tts")
        return login

    def _connect_and_resume(self, login: LoginSettings) -> None:
        """Connect with the login as given plus the addresses filled in (the embedded sim's for `sim`)."""
        login = self._with_addresses(login)
        self.engine.connect(login, timeout=self.login_timeout)
        self._password = login.password
        self.strategies.resume()

    # --- after a restart ------------------------------------------------------------------------
    def start_auto_login(self) -> None:
        """Log back in with the saved login (and resume strategies), retrying with back-off; no-op if none."""
        saved = self.saved_login.load()
        if saved is not None:
            self.auto_login = gevent.spawn(self._log_back_in, saved)

    def _log_back_in(self, saved: LoginSettings) -> None:
        delay = RETRY_FIRST
        while self.engine.gateway is None and self.saved_login.load() is not None:
            try:
                self._connect_and_resume(saved)
                self.engine.log(f"logged back in as {saved.userid} after a restart")
                return
            except LoginFailed as failure:
                self.engine.log(f"logging back in failed: {failure}", "WARNING")
                if failure.error_id in STOP_RETRYING:
                    self.saved_login.clear()
                    return
            except RuntimeError:  # someone logged in by hand meanwhile
                return
            if self._give_up.wait(delay):
                return
            delay = min(delay * 2, RETRY_MOST)

    def close(self) -> None:
        """Stop logging back in (a server shutting down must not connect on its way out)."""
        self._give_up.set()
        pending = self._pending_auto_login()
        if pending is not None:
            pending.kill()

    def _pending_auto_login(self) -> gevent.Greenlet | None:
        greenlet = self.auto_login
        if greenlet is None or greenlet.ready() or greenlet is gevent.getcurrent():
            return None
        return greenlet
