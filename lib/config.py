"""Configuration: one object, every key defaulted.

Sources, later ones winning: the defaults below, `config.yaml` (or the file given to run.py), then
environment variables `CTPDESK_<KEY>` (and `MONGO_URI`, `DASK_SCHEDULER` as they are). Keys are upper case,
as in the API's `/config`. Unknown keys in the file are an error: a typo must not silently fall back to a default.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from lib.hosts import canonical_origin, join_host, split_host

ENV_PREFIX = "CTPDESK_"


class ConfigError(ValueError):
    """A configuration value is missing, unknown or of the wrong type."""


@dataclass(frozen=True)
class Settings:
    """Every setting of a ctpdesk server. Field names are the configuration keys."""

    HOST: str = "127.0.0.1"
    PORT: int = 5000
    DATA_DIR: str = "./data"
    ACCESS_CODE: str = ""  # empty: generated on first start, stored hashed, printed once
    MONGO_URI: str = ""  # empty: the embedded SQLite store
    LOG_LEVEL: str = "INFO"
    BEHIND_PROXY: bool = False  # behind nginx: take the client address from X-Forwarded-For (login limits)
    # The counter.
    INTERFACE: str = "sim"  # sim | ctp | tts
    LOGIN_TIMEOUT: float = 30.0
    # Drop ticks stamped outside their instrument's trading sessions (CTP.md §5): auto | on | off.
    # auto: on for ctp and tts (fronts push stale snapshots out of hours), off for the sim (7x24 by default).
    TICK_SESSION_FILTER: str = "auto"
    # Ticks waiting in the engine's queue from which only the newest of each instrument waits (market data
    # faster than the engine: memory and lag stay bounded; orders and trades are never merged). 0: never merge.
    TICK_MERGE_BACKLOG: int = 100_000
    # The simulated counter (backend/sim).
    SIM_NAME: str = ""  # the sim behind sim://SIM_NAME (tests run several side by side)
    SIM_USERID: str = "demo"
    SIM_PASSWORD: str = "demo"
    SIM_BALANCE: float = 1_000_000.0
    SIM_MODE: str = "7x24"  # 7x24 | sessions | replay
    SIM_MARKET: str = "builtin"  # builtin | full
    SIM_TICK_RATE: float = 2.0  # ticks a second per instrument
    SIM_SEED: int = 20260101
    SIM_REPLAY_CSV: str = ""
    SIM_QUERY_RATE: float = 1.0  # queries a second per session, like a real front; 0 = unlimited
    # Trading behaviour (also settable at run time through /config).
    REFRESH_INTERVAL: int = 5
    INSTRUMENT_INDEPEND: bool = True
    SLIPPAGE_BUY: float = 0.0
    SLIPPAGE_SHORT: float = 0.0
    SLIPPAGE_COVER: float = 0.0
    SLIPPAGE_SELL: float = 0.0
    CLOSE_PATTERN: str = "today"  # today | yesterday
    SHARED_FUNC: bool = False
    TICK_PUSH_INTERVAL: float = 0.25
    # Pre-trade risk limits (backend/engine/risk_rules.py RiskLimits; PUT /risk changes them at run time).
    # 0 turns a count limit off. The defaults keep the account well inside the exchanges' lines.
    RISK_ENABLED: bool = True
    RISK_ORDERS_PER_SECOND: int = 20
    RISK_STRATEGY_ORDERS_PER_SECOND: int = 10
    RISK_ORDERS_PER_DAY: int = 10_000
    RISK_MAX_ORDER_VOLUME: int = 100
    RISK_MAX_WORKING_ORDERS: int = 50
    RISK_MAX_POSITION_PER_CONTRACT: int = 100
    RISK_MAX_POSITION_PER_PRODUCT: int = 200
    RISK_CANCEL_MARGIN: int = 10
    RISK_WARN_SHARE: float = 0.8
    RISK_SELF_TRADE: str = "refuse"  # refuse | cancel_resting | off
    RISK_ENFORCE_REPORTING_LINE: bool = False
    RISK_ENFORCE_HFT_LINE: bool = True
    RISK_DAILY_LOSS_LIMIT: float = 0.0
    RISK_KILL_ON_LOSS: bool = False
    # Issue 16, the secret limit (auth/attempts.py): attempts at a secret (/login, /logout, /auth_code) per client
    # address, counted before each is checked; successful ones are given back.
    SECRET_ATTEMPTS: int = 10  # per address and minute
    SECRET_ATTEMPTS_IN_FLIGHT: int = 2  # per address being checked at the same time
    # Origins and hosts (issue 16, finding 8; views/origins.py). Lists: a YAML list, or in the environment
    # one string separated by commas. Browser pages on other origins than the desk's own are served only
    # when listed here, REST and Socket.IO alike: exact origins, e.g. https://ui.example.com.
    CORS_ORIGINS: tuple[str, ...] = ()
    # The names (`Host` headers) the desk answers to, besides localhost, 127.0.0.1 and ::1, which always
    # work: `name` (any port), `name:port`, or `*` (any: no check). Empty: HOST; when HOST is 0.0.0.0 or
    # ::, any IP address and this machine's host name (a domain name must then be listed).
    ALLOWED_HOSTS: tuple[str, ...] = ()
    # --- issue 16, limits at the web edge (run.py's server; deploy/nginx.conf and uwsgi.ini mirror them) ---
    MAX_BODY: int = 1024 * 1024  # bytes of a request body; more: 413, refused before the body is read
    MAX_CODE_BODY: int = 2 * 1024 * 1024  # ... of /code, /check_code, /run_code (200,000 characters, JSON-escaped)
    HEADER_TIMEOUT: float = 10.0  # seconds a client has to send a request's line and headers; then it is closed
    KEEPALIVE_TIMEOUT: float = 20.0  # seconds an idle keep-alive connection waits for its next request
    ENGINEIO_PER_ADDRESS: int = 100  # Engine.IO sessions one client address may hold; more handshakes: 429
    ENGINEIO_CONNECT_WITHIN: float = 10.0  # seconds a session has to connect a Socket.IO namespace; then closed
    LINT_MEMORY_MB: int = 512  # address space of /check_code's pylint child; more: 422
    # The lab (issue 18, docs/lab.md): backtests and sweeps run in child processes, at most LAB_MAX_RUNS at once
    # (others queue); 0: half the machine's cores, at least 1. A run longer than LAB_TIMEOUT seconds is stopped
    # and marked an error; 0: no limit.
    LAB_MAX_RUNS: int = 0
    LAB_TIMEOUT: float = 3600.0
    # Sweeps (POST /optimise): each point a child; LAB_SWEEP_WORKERS of them at once (0: the CPU count), or on the
    # dask.distributed cluster at DASK_SCHEDULER (tcp://host:8786; also read as is from the environment).
    LAB_SWEEP_WORKERS: int = 0
    DASK_SCHEDULER: str = ""

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @property
    def data_path(self) -> Path:
        return Path(self.DATA_DIR)

    def lab_max_runs(self) -> int:
        """LAB_MAX_RUNS, 0 made concrete: half the cores (a run is one busy process), at least 1."""
        return self.LAB_MAX_RUNS or max(1, (os.cpu_count() or 1) // 2)

    def risk_values(self) -> dict[str, Any]:
        """The RISK_* settings by RiskLimits' field names (risk_enabled -> enabled)."""
        return {item.name[len(RISK_PREFIX):].lower(): getattr(self, item.name)
                for item in fields(self) if item.name.startswith(RISK_PREFIX)}  # fmt: skip


RISK_PREFIX = "RISK_"
_FIELD_TYPES = {f.name: f.type for f in fields(Settings)}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_NOT_NEGATIVE = ("TICK_MERGE_BACKLOG",)  # counts where a negative number means nothing (RISK_*: RiskLimits says)


# issue 16, the web edge's limits: 0 turns a timeout or a cap off; a negative number means nothing.
_NOT_NEGATIVE += ("MAX_BODY", "MAX_CODE_BODY", "HEADER_TIMEOUT", "KEEPALIVE_TIMEOUT", "ENGINEIO_PER_ADDRESS",
                  "ENGINEIO_CONNECT_WITHIN", "LINT_MEMORY_MB")
_NOT_NEGATIVE += ("LAB_MAX_RUNS", "LAB_TIMEOUT")  # issue 18: 0 is "automatic" and "no limit"
_NOT_NEGATIVE += ("LAB_SWEEP_WORKERS",)  # 0: the CPU count


def _coerce(key: str, value: Any) -> Any:
    kind = _FIELD_TYPES[key]
    if kind.startswith("tuple"):
        return _entries(key, value)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ConfigError(f"{key}: expected a boolean, got {value!r}")
    if kind in ("int", "float"):
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        try:
            number = int(value) if kind == "int" else float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}: expected a number, got {value!r}") from None
        if number < 0 and key in _NOT_NEGATIVE:
            raise ConfigError(f"{key}: expected 0 or more, got {value!r}")
        return number
    if value is None:
        return ""
    if isinstance(value, bool):  # YAML 1.1 reads a bare on / off / yes / no as a boolean
        return "on" if value else "off"
    return str(value)


def _entries(key: str, value: Any) -> tuple[str, ...]:
    """A list setting: a YAML list, or one string separated by commas or spaces (the environment)."""
    if value is None:
        items: list[str] = []
    elif isinstance(value, str):
        items = re.split(r"[,\s]+", value)
    elif isinstance(value, (list, tuple)):
        items = [str(item) for item in value]
    else:
        raise ConfigError(f"{key}: expected a list, got {value!r}")
    check = _LIST_CHECKS.get(key, lambda _, item: item)
    found = [check(key, item.strip()) for item in items if item.strip()]
    return tuple(dict.fromkeys(found))  # each once, in the order given


def _origin_entry(key: str, item: str) -> str:
    """An origin as browsers send it, so that it compares with `Origin` as a plain string."""
    if item == "*":
        raise ConfigError(f"{key}: '*' is not allowed: list the origin of each front end to serve")
    origin = canonical_origin(item)
    if origin is None:
        raise ConfigError(f"{key}: {item!r} is not an origin: scheme://host[:port] with http or https and "
                          "no path, e.g. https://ui.example.com")  # fmt: skip
    return origin


def _host_entry(key: str, item: str) -> str:
    if item == "*":
        return item
    split = split_host(item)
    if split is None:
        raise ConfigError(f"{key}: {item!r} is not a host name or address (optionally with :port), "
                          "e.g. desk.example.com")  # fmt: skip
    return join_host(*split)


_LIST_CHECKS = {"CORS_ORIGINS": _origin_entry, "ALLOWED_HOSTS": _host_entry}


def _from_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(loaded, Mapping):
        raise ConfigError(f"{path}: expected a mapping of KEY: value")
    unknown = sorted(set(loaded) - set(_FIELD_TYPES))
    if unknown:
        raise ConfigError(f"{path}: unknown keys {', '.join(map(str, unknown))}")
    return dict(loaded)


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    found = {key: environ[ENV_PREFIX + key] for key in _FIELD_TYPES if ENV_PREFIX + key in environ}
    for key in ("MONGO_URI", "DASK_SCHEDULER"):  # the names these services' users already set
        if key in environ and key not in found:
            found[key] = environ[key]
    return found


def load_settings(
    path: str | Path | None = "config.yaml",
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build Settings from defaults, the YAML file, the environment and explicit overrides."""
    values: dict[str, Any] = {}
    if path is not None:
        values.update(_from_file(Path(path)))
    values.update(_from_env(os.environ if environ is None else environ))
    unknown = sorted(set(overrides) - set(_FIELD_TYPES))
    if unknown:
        raise ConfigError(f"unknown settings {', '.join(unknown)}")
    values.update(overrides)
    return Settings(**{key: _coerce(key, value) for key, value in values.items()})
