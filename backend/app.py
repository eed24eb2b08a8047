"""The app factory: the one place that wires configuration, store, engine, auth, views and Socket.IO."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from pathlib import Path

from flask import Flask
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from auth.access import AccessCode
from auth.attempts import attempts
from auth.saved_login import SavedLogin
from auth.tokens import Tokens, load_secret
from backend.engine.engine import EngineConfig, MainEngine
from backend.engine.risk_rules import RiskLimits
from backend.extensions import jwt, socketio
from backend.gateway.ctp_gateway import session_filter_on
from backend.history import BarHistory
from backend.lab.plans import clear_scratch
from backend.lab.runs import RunRegistry
from backend.runtime import apply_runtime
from backend.session import CounterSession
from backend.strategy_runtime.manager import StrategyManager
from lib.config import ConfigError, Settings, load_settings
from model import open_store
from model.protocols import ConfigStore
from views import (
    accounts,
    asyncapi,
    body_limits,
    code_tools,
    config_view,
    health,
    lab,
    market,
    openapi,
    optimise,
    origins,
    recording,
    risk,
    sim_control,
    strategies,
    trading,
    ui,
)
from views.desk import Desk
from views.envelope import ApiError, failure
from views.handshakes import Handshakes
from views.json_input import LimitedJSONProvider
from views.push import Push, TextPacket
from views.schemas import RuntimeConfig
from views.sockets import register_socket_handlers
from views.websocket import use_whole_frames

VERSION = "0.1.0"
TOKEN_HOURS = 24
log = logging.getLogger("ctpdesk")


def create_app(settings: Settings | None = None) -> Flask:
    """Build a ctpdesk app; tests pass their own Settings (temporary data directory, sim counter)."""
    settings = settings or load_settings()
    data_dir = _private_data_dir(Path(settings.DATA_DIR))
    app = Flask("ctpdesk", static_folder=None)
    app.json = LimitedJSONProvider(app)  # every request.get_json depth-limited (views/json_input.py)
    secret = load_secret(data_dir)
    app.config.update(
        CTPDESK_VERSION=VERSION,
        JSON_AS_ASCII=False,
        JWT_SECRET_KEY=secret,
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(hours=TOKEN_HOURS),
        PROVIDE_AUTOMATIC_OPTIONS=False,  # OPTIONS answers 405 in the envelope, like every other response
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    store = open_store(data_dir, settings.MONGO_URI)
    runtime = _runtime_config(settings, store)
    _configure_sim(settings, data_dir)
    engine = MainEngine(store, _engine_config(settings, data_dir, runtime))
    access = AccessCode(store)
    app.config["CTPDESK_GENERATED_ACCESS_CODE"] = access.ensure(settings.ACCESS_CODE)
    tokens = Tokens(store)
    jwt.init_app(app)
    _configure_attempts(settings)
    allowed_origins = origins.OriginPolicy(frozenset(settings.CORS_ORIGINS))  # the desk's own and CORS_ORIGINS
    socketio.init_app(app, async_mode=_async_mode(), cors_allowed_origins=allowed_origins.allows,
                      cors_credentials=False, logger=False, engineio_logger=False, serializer=TextPacket)  # fmt: skip
    use_whole_frames(socketio)
    _edge_limits(app, settings)
    for module in (health, accounts, market, trading, risk, config_view, strategies, code_tools, sim_control, lab,
                   optimise, openapi, asyncapi, recording, ui):  # fmt: skip
        app.register_blueprint(module.blueprint)
    register_socket_handlers(socketio)
    history = BarHistory(engine, store)
    strategy_manager = StrategyManager(engine, store, runtime, data_dir=data_dir, history=history)
    session = CounterSession(engine, strategy_manager, SavedLogin(store, secret), settings.SIM_NAME,
                             settings.LOGIN_TIMEOUT, VERSION)  # fmt: skip
    push = Push(socketio, engine, tokens, session.status, settings.TICK_PUSH_INTERVAL)  # starts tasks: after init_app
    lab_runs = RunRegistry(store, lab.socket_notifier(socketio), settings.lab_max_runs(), settings.LAB_TIMEOUT)
    lab_runs.recover()  # runs a stopped server left behind: errors now, their data files gone
    clear_scratch(data_dir)
    app.extensions["ctpdesk"] = Desk(settings, store, engine, access, tokens, runtime, strategy_manager, session, push,
                                     history, lab_runs)
    session.start_auto_login()
    _register_error_handlers(app)
    origins.install(app, settings, allowed_origins)  # hosts and origins on every request, /socket.io/ too
    if settings.BEHIND_PROXY:  # one trusted proxy (nginx) in front: per-client limits need the real address
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    logging.getLogger().setLevel(settings.LOG_LEVEL.upper())
    return app


def _edge_limits(app: Flask, settings: Settings) -> None:
    """Issue 16: request bodies by path (views/body_limits.py), Engine.IO sessions per address and the
    short life of those without a socket (views/handshakes.py). run.py's server adds the header limits."""
    body_limits.init_app(app, settings)
    handshakes = Handshakes(socketio, settings.ENGINEIO_PER_ADDRESS, settings.ENGINEIO_CONNECT_WITHIN)
    app.wsgi_app = handshakes.middleware(app.wsgi_app)  # type: ignore[method-assign]
    app.extensions["ctpdesk.handshakes"] = handshakes


def _configure_attempts(settings: Settings) -> None:
    """The limit of attempts at a secret per client address (/login, /logout, /auth_code: views/secret_limit.py)."""
    try:
        attempts.configure(settings.SECRET_ATTEMPTS, settings.SECRET_ATTEMPTS_IN_FLIGHT)
    except ValueError:  # a bad value stops the start, clearly
        raise ConfigError("SECRET_ATTEMPTS and SECRET_ATTEMPTS_IN_FLIGHT: at least 1") from None


def _private_data_dir(data_dir: Path) -> Path:
    """The data directory, 0700, its files 0600: it holds the store, the JWT secret, the saved login and the
    sim's journal, which no other user of the host has any business reading.

    What this server creates there from now on is private by the process's umask (run.py); what an older
    version left readable (files 0644, directories 0755) is tightened here, once a start.
    """
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    for path in (data_dir, *data_dir.rglob("*")):
        if path.is_symlink():
            continue
        mode = path.lstat().st_mode & 0o777
        private = mode & 0o700 | (0o700 if path.is_dir() else 0)
        if mode != private:
            try:
                path.chmod(private)
            except PermissionError:  # not ours (a shared mount?): say so rather than refuse to start
                log.warning("data directory: cannot make %s private (owned by another user)", path)
    return data_dir


def _async_mode() -> str:
    """uWSGI does websockets itself (gevent_uwsgi); everywhere else gevent's own server serves them."""
    try:
        import uwsgi  # noqa: F401 - only importable inside a uWSGI worker
    except ImportError:
        return "gevent"
    return "gevent_uwsgi"


def shutdown(app: Flask) -> None:
    """Stop cleanly: the lab's runs, no more logging back in, strategies (their orders stay), the push, the
    counter, then the store. Nothing the app started on the loop runs on (tests/integration/test_app_shutdown.py)."""
    desk: Desk = app.extensions["ctpdesk"]
    desk.lab.close()  # the lab's children killed; their runs are marked at the next start
    desk.session.close()
    desk.strategies.close()
    desk.push.close()
    app.extensions["ctpdesk.handshakes"].close()
    desk.engine.close()
    desk.store.close()


def _runtime_config(settings: Settings, store: ConfigStore) -> dict[str, object]:
    """The /config values: the configuration file's, overridden by what PUT /config stored."""
    defaults = {name: getattr(settings, name) for name in RuntimeConfig.model_fields}
    stored = store.load_config()
    merged = {**defaults, **{k: v for k, v in stored.items() if k in RuntimeConfig.model_fields}}
    return RuntimeConfig.model_validate(merged).model_dump()


def _engine_config(settings: Settings, data_dir: Path, runtime: dict[str, object]) -> EngineConfig:
    session_filter_on(settings.TICK_SESSION_FILTER, settings.INTERFACE)  # a bad value stops the start, clearly
    config = EngineConfig(
        flow_dir=data_dir / "flow",
        query_interval=_query_interval(settings),
        tick_session_filter=settings.TICK_SESSION_FILTER,
        tick_merge_backlog=settings.TICK_MERGE_BACKLOG,
        risk_limits=_risk_limits(settings),
        mark_interval=settings.TICK_PUSH_INTERVAL,  # issue 17: marked positions go out with the ticks' pace
    )
    apply_runtime(config, runtime)
    return config


def _risk_limits(settings: Settings) -> RiskLimits:
    try:
        return RiskLimits(**settings.risk_values())
    except ValueError as error:  # a bad value stops the start, clearly
        raise ConfigError(f"RISK_{str(error).upper().split(' ', 1)[0]}: {error}") from None


def _query_interval(settings: Settings) -> float:
    if settings.INTERFACE == "sim":
        return 1.0 / settings.SIM_QUERY_RATE if settings.SIM_QUERY_RATE > 0 else 0.0
    return 1.0


def _configure_sim(settings: Settings, data_dir: Path) -> None:
    """Set up the embedded counter behind sim://SIM_NAME, unless it already runs in this process."""
    from backend.sim import SimAccount, configure
    from backend.sim.registry import registry

    if registry.running(settings.SIM_NAME) is not None:
        return
    configure(
        settings.SIM_NAME,
        data_dir=str(data_dir),
        accounts=(SimAccount(settings.SIM_USERID, settings.SIM_PASSWORD, settings.SIM_BALANCE),),
        mode=settings.SIM_MODE,
        market=settings.SIM_MARKET,
        tick_rate=settings.SIM_TICK_RATE,
        seed=settings.SIM_SEED,
        replay_csv=settings.SIM_REPLAY_CSV,
        query_rate=settings.SIM_QUERY_RATE,
    )


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(error: ApiError):
        return failure(error.message, error.status, error.data)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code == 429:
            return failure("too many attempts: wait and try again", 429)
        return failure(error.description or error.name, error.code or 500)

    @app.errorhandler(Exception)
    def unhandled(error: Exception):
        trace_id = uuid.uuid4().hex[:12]
        app.logger.exception("unhandled error (trace %s)", trace_id)
        return failure(f"internal error (trace {trace_id})", 500)
