"""Strategies on the server side: one worker process each, fed its events, its commands checked.

A worker that raises, hangs, floods, eats memory or exits is stopped and marked `error` with the
reason; the engine and the other workers go on. Orders from a worker go through the engine like any
other (local risk checks included) and carry the strategy's name.
"""

from __future__ import annotations

import ast
import json
import logging
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
from gevent import subprocess
from gevent.queue import Full, Queue

from backend.engine import events
from backend.engine.commands import CancelAll, CancelOrder, ClosePosition, SendOrder
from backend.engine.constants import Direction, Interval, Offset, OrderType, Status
from backend.engine.main_contract import main_of
from backend.engine.objects import OrderRequest, TradeData, trade_from_dict
from backend.engine.oms import UnknownOrder, position_side
from backend.engine.risk import OrderRefused
from backend.engine.slippage import slip_order
from backend.history import BarHistory
from backend.strategy_runtime.params import (
    ParamsError,
    applicable,
    check_params,
    declared_params,
    described,
    merged,
)
from backend.strategy_runtime.positions import StrategyBook
from backend.strategy_runtime.protocol import MAX_LINE, ProtocolError, decode, encode
from backend.strategy_runtime.throttle import SERVER_LOG_RATE, LogThrottle, dropped_message
from backend.strategy_runtime.workdir import strategy_home, worker_environment
from lib.config import Settings
from model.protocols import StrategyStore
from model.store import NotFound

log = logging.getLogger(__name__)
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
ROOT = Path(__file__).resolve().parents[2]
CHUNK = 65536  # bytes read from a worker's pipe at a time: no line, however long, is read whole
BOOK_KEY = "strategy_book:{}"  # the store's value holding a strategy's book as its trading day began
PARAMS_KEY = "strategy_params:{}"  # the store's value holding the params overrides of a strategy's last start
MAX_ERROR = 4000  # characters of a worker's error (its line and short traceback) kept as the reason
STDERR_TAIL = 4000  # bytes of a worker's raw stderr kept, for the reason it stopped
FLOOD_PAUSE = 0.1  # seconds the reader waits after a chunk with throttled logs: the flooder's pipe fills and it waits


class StrategyError(ValueError):
    """Bad strategy input: a name, code that does not compile, no `ext`, params it does not declare."""


class StrategyRunning(StrategyError):
    """A change only a stopped strategy takes (new params)."""


@dataclass(frozen=True)
class WorkerLimits:
    memory_mb: int = 1024
    max_backlog: int = 50_000  # queued events a worker may be behind before it counts as hung
    stop_wait: float = 3.0
    ping_every: float = 5.0  # a worker answers pings between callbacks ...
    ping_timeout: float = 20.0  # ... and one silent this long is stuck in a callback (an endless loop)


@dataclass
class Worker:
    name: str
    process: Any
    started_at: float
    outbox: Queue
    instruments: frozenset[str] = frozenset()
    stopping: bool = False
    error: str = ""
    last_seen: float = field(default_factory=time.monotonic)  # its last heartbeat (pong), nothing else
    stderr_tail: bytes = b""
    logs: LogThrottle = field(default_factory=lambda: LogThrottle(SERVER_LOG_RATE))
    greenlets: list[Any] = field(default_factory=list)


def validate_name(name: str) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise StrategyError("name: letters, digits and _, starting with a letter or _, at most 64 characters")
    return name


def name_from_code(text: str) -> str:
    """The name of a module-level `ext = SomeStrategy("name")`, as ctpbee strategies declare it."""
    tree = _parse(text)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "ext" for t in node.targets):
            call = node.value
            if isinstance(call, ast.Call) and call.args and isinstance(call.args[0], ast.Constant):
                return validate_name(str(call.args[0].value))
    raise StrategyError('name: give one, or define `ext = YourStrategy("name")` in the code')


def _parse(text: str) -> ast.Module:
    try:
        return ast.parse(text)
    except SyntaxError as error:
        raise StrategyError(f"text: syntax error line {error.lineno}: {error.msg}") from None


class StrategyManager:
    def __init__(self, engine: Any, store: StrategyStore, runtime: dict[str, Any], limits: WorkerLimits | None = None,
                 data_dir: Path | str | None = None, history: BarHistory | None = None) -> None:  # fmt: skip
        """`data_dir` is the server's: each worker runs in `<data_dir>/strategies/<name>/` (workdir.py);
        `history` serves the workers' load_bars (by default over `store`)."""
        self.engine = engine
        self.history = history if history is not None else BarHistory(engine, store)  # type: ignore[arg-type]
        self.data_dir = Path(Settings.DATA_DIR if data_dir is None else data_dir).resolve()
        self.store = store
        self.runtime = runtime
        self.limits = limits or WorkerLimits()
        self.workers: dict[str, Worker] = {}
        self.books: dict[str, StrategyBook] = self._load_books()
        engine.bus.subscribe(None, self._on_event)
        self._pinger = gevent.spawn(self._ping_loop)

    # --- code and lifecycle ---------------------------------------------------------------------
    def save_code(self, text: str, name: str | None = None) -> str:
        name = validate_name(name) if name else name_from_code(text)
        _parse(text)
        self.store.save_strategy_code(name, text, time.time())
        if name in self.workers:
            self.stop(name)
            self.start(name)
        return name

    def start(self, name: str, params: dict[str, Any] | None = None) -> None:
        """Start a worker on the stored code. `params` (overrides of the class's declared `params`) are
        checked and saved: this and every later start (a resume after a restart too) use them until a
        start gives others; without them the saved ones apply."""
        record = self.store.get_strategy(validate_name(name))  # NotFound when unknown
        if name in self.workers:
            if params is not None:
                raise StrategyRunning(f"{name} is running: stop it to start it with other params")
            return
        if params is not None:
            overrides = self._keep_params(name, record.text, params)
        else:
            overrides = applicable(declared_params(record.text), self._saved_params(name))
        home = strategy_home(self.data_dir, name)
        process = subprocess.Popen(
            [sys.executable, "-m", "backend.strategy_runtime.worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(home),
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "PYTHONPATH": str(ROOT),
                 "CTPDESK_WORKER_MEMORY_MB": str(self.limits.memory_mb),
                 **worker_environment(home, self.data_dir, ROOT)},
            start_new_session=True,  # no preexec_fn: unsafe with the server's native threads
        )  # fmt: skip
        worker = Worker(name, process, time.time(), Queue(maxsize=self.limits.max_backlog))
        self.workers[name] = worker
        self._book(name)
        worker.outbox.put_nowait({"k": "init", "name": name, "code": record.text, "state": self._state(name),
                                  "params": overrides})  # fmt: skip
        worker.greenlets = [gevent.spawn(f, worker) for f in (self._write, self._read, self._drain_stderr, self._watch)]
        self._set_state(name, "running", "", worker.started_at)

    def save_params(self, name: str, params: dict[str, Any]) -> None:
        """Check and save a stopped strategy's params for its next start (the lab's "apply these params",
        the desk's form saved without starting)."""
        record = self.store.get_strategy(validate_name(name))  # NotFound when unknown
        if name in self.workers:
            raise StrategyRunning(f"{name} is running: stop it to give it other params")
        self._keep_params(name, record.text, params)

    def _keep_params(self, name: str, text: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            overrides = check_params(declared_params(text), params)
        except ParamsError as error:
            raise StrategyError(str(error)) from None
        self.store.set_value(PARAMS_KEY.format(name), json.dumps(overrides))
        return overrides

    def stop(self, name: str, cancel_orders: bool = False, keep_state: bool = False) -> None:
        """Stop a worker; keep_state leaves it marked running (a server shutdown: it resumes after)."""
        worker = self.workers.get(name)
        if worker is None:
            self.store.get_strategy(name)
            if not keep_state:
                self._set_state(name, "stopped", "", None)
            return
        worker.stopping = True
        try:
            worker.outbox.put_nowait({"k": "stop"})
        except Full:
            pass
        try:
            worker.process.wait(timeout=self.limits.stop_wait)
        except subprocess.TimeoutExpired:
            self._kill(worker)
        self._finish(worker)
        if cancel_orders and self.engine.connected:
            self.engine.execute(CancelAll(name))
        if not keep_state:
            self._set_state(name, "stopped", "", None)

    def delete(self, name: str) -> None:
        self.store.get_strategy(validate_name(name))
        if name in self.workers:
            self.stop(name)
        self.store.delete_strategy(name)
        self.books.pop(name, None)
        self.store.set_value(BOOK_KEY.format(name), "")  # a new strategy of that name starts flat
        self.store.set_value(PARAMS_KEY.format(name), "")  # ... and with its class's params

    def stop_all(self, keep_state: bool = False) -> None:
        for name in list(self.workers):
            self.stop(name, keep_state=keep_state)

    def close(self) -> None:
        """The server is stopping: strategies stop as they are (they start again with it), the pings end."""
        self.stop_all(keep_state=True)
        self._pinger.kill()
        self.engine.bus.unsubscribe(None, self._on_event)

    def resume(self) -> None:
        """After a (re)start: strategies that were running start again, with the books they had."""
        for record in self.store.list_strategies():
            if record.status == "running" and record.name not in self.workers:
                self.start(record.name)

    # --- books across trading days ----------------------------------------------------------------
    def _load_books(self) -> dict[str, StrategyBook]:
        """Each strategy's book: as its day began, plus that day's journaled fills, rolled to today.

        A server that was down at the settlement (or killed during the roll) finds a book of an
        earlier day: that day's fills are added, and the result is today's opening. Each day's
        journal is read once, whatever the number of strategies.
        """
        today, books = self.engine.trading_day, {}
        fills: dict[str, dict[str, list[TradeData]]] = {}  # day -> strategy -> its fills that day
        for record in self.store.list_strategies():
            try:
                text = self.store.get_value(BOOK_KEY.format(record.name))
            except NotFound:
                continue
            if not text:
                continue
            book = StrategyBook.from_state(record.name, json.loads(text))
            self._add_journaled(book, fills)
            if today and book.day < today:
                book.roll(today)
                self._save_book(book, now=True)
                self._add_journaled(book, fills)
            books[record.name] = book
        return books

    def _add_journaled(self, book: StrategyBook, fills: dict[str, dict[str, list[TradeData]]]) -> None:
        if book.day not in fills:
            by_strategy: dict[str, list[TradeData]] = {}
            for row in self.store.load_trades(book.day):
                if row.get("strategy"):
                    by_strategy.setdefault(row["strategy"], []).append(trade_from_dict(row))
            fills[book.day] = by_strategy
        for trade in fills[book.day].get(book.name, ()):
            book.add(trade)

    def _roll_books(self, day: str) -> None:
        for book in self.books.values():
            if book.day < day:
                book.roll(day)
                self._save_book(book)

    def _book(self, name: str) -> StrategyBook:
        """A strategy's book; a new one is stored flat at once, so that a restart knows which day's
        fills to add to it."""
        book = self.books.get(name)
        if book is None:
            book = self.books[name] = StrategyBook(name, self.engine.trading_day)
            self._save_book(book)
        return book

    def _save_book(self, book: StrategyBook, now: bool = False) -> None:
        key, text = BOOK_KEY.format(book.name), json.dumps(book.state())
        if now:
            self.store.set_value(key, text)
        else:
            self.engine.writer.submit(self.store.set_value, key, text)

    def running_names(self) -> list[str]:
        return sorted(self.workers)

    def listing(self) -> list[dict[str, Any]]:
        return [
            {"name": r.name, "status": r.status, "error": r.error, "updated_at": r.updated_at,
             "started_at": r.started_at, "positions": self.pnl(r.name), "drift": self.drift(r.name),
             "params": self.params(r.name, r.text), "declared_params": described(declared_params(r.text))}
            for r in self.store.list_strategies()
        ]  # fmt: skip

    def params(self, name: str, text: str) -> dict[str, Any]:
        """A strategy's params as its next start (or its running worker) has them: the class's defaults
        with the saved overrides the code still accepts."""
        defaults = declared_params(text)
        return merged(defaults, applicable(defaults, self._saved_params(name)))

    def _saved_params(self, name: str) -> dict[str, Any]:
        try:
            text = self.store.get_value(PARAMS_KEY.format(name))
        except NotFound:
            return {}
        try:
            saved = json.loads(text) if text else {}
        except ValueError:
            return {}
        return saved if isinstance(saved, dict) else {}

    # --- the books against the account (issue 17) --------------------------------------------------
    def drift(self, name: str) -> list[dict[str, Any]]:
        """Where a strategy's book holds more lots than the account: closed by hand, by another strategy,
        or at the counter. Empty while the account's positions are not known (before a login)."""
        book, oms = self.books.get(name), self.engine.oms
        if book is None or not oms.positions_known:
            return []
        rows = []
        for symbol, direction, volume in book.held():
            account = oms.positions.get((symbol, direction))
            held = account.volume if account is not None else 0
            if volume > held:
                rows.append({"local_symbol": symbol, "direction": direction.value, "book": volume, "account": held})
        return rows

    def reconcile(self, name: str, action: str, wait: float = 2.0) -> dict[str, Any]:
        """Bring a strategy's book in line with the account.

        Both first take away the lots the account does not have (a book never holds more than the
        account: "adopt" ends there). "flatten" then sends closes, tagged with the strategy, for the
        lots it still holds (as many as the account has free), so its fills take them off its book.
        The book is stored at once: a restart finds it as reconciled.
        """
        self.store.get_strategy(validate_name(name))  # NotFound when unknown
        if action not in RECONCILE_ACTIONS:
            raise StrategyError(f"action: one of {', '.join(RECONCILE_ACTIONS)}, not {action!r}")
        self.engine.require_connected()  # the account's positions are known only in a session
        book = self._book(name)
        adjusted = self.drift(name)
        for row in adjusted:
            book.cap(row["local_symbol"], Direction(row["direction"]), row["account"])
        if adjusted:
            self._save_book(book, now=True)
            self._tell_positions(name, {row["local_symbol"] for row in adjusted})
        orders, problems = [], []
        if action == "flatten":
            for symbol, direction, volume in book.held():
                free = self.engine.oms.position(symbol, direction).available
                try:
                    if min(volume, free) <= 0:
                        raise OrderRefused(f"no free lots: {volume} held by working close orders")
                    closing = self.engine.execute(ClosePosition(symbol, direction, min(volume, free), None, name,
                                                                wait))  # fmt: skip
                    orders += [order.to_dict() for order in closing]
                except Exception as error:  # noqa: BLE001 - one side's trouble must not stop the others
                    problems.append(f"{symbol} {direction.value}: {error}")
        return {"name": name, "action": action, "adjusted": adjusted, "orders": orders, "problems": problems,
                "positions": self.pnl(name), "drift": self.drift(name)}  # fmt: skip

    def _tell_positions(self, name: str, symbols: set[str]) -> None:
        """A running strategy hears of its book's new lots as it hears of a fill's."""
        worker = self.workers.get(name)
        if worker is None:
            return
        sizes, prices = self._marks()
        for symbol in sorted(symbols):
            for position in self.books[name].positions(symbol, sizes, prices):
                self._enqueue(worker, {"k": "position", "d": position})

    # --- the worker's pipes -----------------------------------------------------------------------
    def _write(self, worker: Worker) -> None:
        stdin = worker.process.stdin
        try:
            while True:
                message = worker.outbox.get()
                stdin.write(encode(message))
                stdin.flush()
                if message.get("k") == "stop":
                    return
        except (BrokenPipeError, OSError, ValueError):
            return

    def _read(self, worker: Worker) -> None:
        """Commands and logs from the worker, read in bounded chunks: no line is read whole."""
        buffer = b""
        while True:
            chunk = worker.process.stdout.read1(CHUNK)
            if not chunk:
                return
            lines = (buffer + chunk).split(b"\n")
            buffer = lines.pop()
            if len(buffer) > MAX_LINE:
                self._fail(worker, "protocol error: message too long")
                return
            dropped = worker.logs.dropped
            for line in lines:
                if not self._receive(worker, line):
                    return
            self._report_dropped(worker)
            if worker.logs.dropped > dropped:
                gevent.sleep(FLOOD_PAUSE)  # a flooding worker blocks on its full pipe meanwhile

    def _receive(self, worker: Worker, line: bytes) -> bool:
        try:
            message = decode(line)
        except ProtocolError as error:
            self._fail(worker, f"protocol error: {error}")
            return False
        try:
            self._handle(worker, message)
        except Exception:  # a bad command must not kill the reader
            log.exception("strategy %s: command failed", worker.name)
        return True

    def _report_dropped(self, worker: Worker) -> None:
        dropped = worker.logs.report()
        if dropped:
            self.engine.log(dropped_message(dropped, SERVER_LOG_RATE), "WARNING", worker.name)

    def _drain_stderr(self, worker: Worker) -> None:
        """Raw stderr (native code, the interpreter's last words): only a bounded tail is kept."""
        while True:
            chunk = worker.process.stderr.read1(CHUNK)
            if not chunk:
                return
            worker.stderr_tail = (worker.stderr_tail + chunk)[-STDERR_TAIL:]
            gevent.sleep(0)

    def _watch(self, worker: Worker) -> None:
        code = worker.process.wait()
        if worker.stopping:
            return
        reason = worker.error or self._exit_reason(worker, code)
        self._finish(worker)
        self._set_state(worker.name, "error", reason, None)
        self.engine.log(f"strategy {worker.name} stopped: {reason}", "ERROR", worker.name)

    @staticmethod
    def _exit_reason(worker: Worker, code: int) -> str:
        tail = worker.stderr_tail.decode(errors="replace").strip().splitlines()[-1:] or [""]
        if code is not None and code < 0:
            return f"killed by signal {-code}" + (f": {tail[0]}" if tail[0] else "")
        return f"exited with code {code}" + (f": {tail[0]}" if tail[0] else "")

    def _fail(self, worker: Worker, reason: str) -> None:
        worker.error = worker.error or reason
        self._kill(worker)

    @staticmethod
    def _kill(worker: Worker) -> None:
        try:
            os.killpg(worker.process.pid, 9)
        except (ProcessLookupError, PermissionError):
            pass

    def _finish(self, worker: Worker) -> None:
        if self.workers.get(worker.name) is worker:
            del self.workers[worker.name]
        for greenlet in worker.greenlets:
            if greenlet is not gevent.getcurrent():
                greenlet.kill(block=False)

    def _set_state(self, name: str, status: str, error: str, started_at: float | None) -> None:
        self.store.set_strategy_state(name, status, error, started_at)
        self.engine.bus.publish(events.STRATEGY, {"name": name, "status": status, "error": error})

    def _ping_loop(self) -> None:
        while True:
            gevent.sleep(self.limits.ping_every)
            now = time.monotonic()
            for worker in list(self.workers.values()):
                if now - worker.last_seen > self.limits.ping_timeout:
                    self._fail(worker, f"not responding for {self.limits.ping_timeout:g}s (an endless loop?)")
                else:
                    self._enqueue(worker, {"k": "ping"})

    # --- commands from a worker -----------------------------------------------------------------
    def _handle(self, worker: Worker, message: dict[str, Any]) -> None:
        kind = message["k"]
        if kind == "pong":
            worker.last_seen = time.monotonic()
        elif kind == "ready":
            worker.instruments = frozenset(message.get("instruments") or ())
            if worker.instruments and self.engine.connected:
                self.engine.subscribe(sorted(worker.instruments))
        elif kind == "log":
            if worker.logs.allow():
                self.engine.log(str(message.get("message", ""))[:2000], _level(message.get("level")), worker.name)
        elif kind == "error":  # the worker's summary (the user file's line) and short traceback
            self._fail(worker, str(message.get("message", "")).strip()[:MAX_ERROR] or "error")
        elif kind in _COMMANDS:
            reply = _COMMANDS[kind](self, worker, message)
            self._enqueue(worker, {"k": "reply", "id": message.get("id"), **reply})

    def _order(self, worker: Worker, message: dict[str, Any]) -> dict[str, Any]:
        try:
            contract = self.engine.oms.contract(str(message["local_symbol"]))
            request = OrderRequest(contract.symbol, contract.exchange, Direction(message["direction"]),
                                   Offset(message["offset"]), OrderType(message.get("type", "limit")),
                                   float(message["price"]), int(message["volume"]), worker.name)  # fmt: skip
            request = slip_order(request, self.engine.config.slippage, contract.pricetick,
                                 self.engine.oms.ticks.get(contract.local_symbol))  # fmt: skip
            if request.offset is Offset.OPEN:
                order = self.engine.execute(SendOrder(request, 2.0))
                return {"ok": order.status is not Status.REJECTED, "order": order.to_dict()}
            closed = position_side(request.direction, request.offset)
            # sell/cover: split by today's and yesterday's lots where the exchange needs it (an explicit
            # close_today / close_yesterday takes only its kind)
            close = ClosePosition(contract.local_symbol, closed, request.volume, request.price, worker.name,
                                  type=request.type, offset=request.offset)  # fmt: skip
            orders = self.engine.execute(close)
            return {"ok": True, "orders": [order.to_dict() for order in orders]}
        except OrderRefused as error:  # a local check or a risk limit: the strategy's on_order hears it too
            self._enqueue(worker, {"k": events.ORDER, "d": _refused_order(message, worker.name, str(error))})
            return {"ok": False, "error": str(error)}
        except Exception as error:  # unknown instrument, not connected: tell the strategy
            return {"ok": False, "error": str(error) or type(error).__name__}

    def _cancel(self, worker: Worker, message: dict[str, Any]) -> dict[str, Any]:
        try:
            order = self.engine.execute(CancelOrder(str(message.get("order_id")), 2.0, worker.name))
        except UnknownOrder:
            return {"ok": False, "error": "not an order of this strategy"}
        except Exception as error:
            return {"ok": False, "error": str(error)}
        return {"ok": True, "order": order.to_dict()}

    def _cancel_all(self, worker: Worker, message: dict[str, Any]) -> dict[str, Any]:
        try:
            return {"ok": True, "cancelled": self.engine.execute(CancelAll(worker.name))}
        except Exception as error:
            return {"ok": False, "error": str(error)}

    def _main_contract(self, worker: Worker, message: dict[str, Any]) -> dict[str, Any]:
        """A product's main contract now (the most open interest, backend/engine/main_contract.py)."""
        oms = self.engine.oms
        product = str(message.get("product", ""))
        deadline = time.monotonic() + OPEN_INTEREST_WAIT
        while not oms.open_interest and time.monotonic() < deadline:  # just logged in: the query is under way
            gevent.sleep(0.05)
        found = main_of(oms.contracts.values(), oms.open_interest, product)
        if found is None:
            reason = "no listed futures contract of it has open interest"
            return {"ok": False, "error": f"no main contract of {product!r}: {reason}"}
        return {"ok": True, "local_symbol": found}

    def _load_bars(self, worker: Worker, message: dict[str, Any]) -> dict[str, Any]:
        """A strategy's warm-up: the latest `count` stored bars (the sim's past filled in first), oldest first."""
        try:
            name = str(message.get("local_symbol", ""))
            interval = Interval(str(message.get("interval") or "1m"))
            count = int(message.get("count", 0))
            if not 1 <= count <= MAX_WARMUP_BARS:
                raise ValueError(f"count must be 1..{MAX_WARMUP_BARS}, got {count}")
            rows = self.history.load(name, interval, None, None, count)
        except Exception as error:
            return {"ok": False, "error": str(error) or type(error).__name__}
        return {"ok": True, "local_symbol": name, "interval": interval.value, "rows": rows}

    def _subscribe(self, worker: Worker, message: dict[str, Any]) -> dict[str, Any]:
        try:
            names = self.engine.subscribe([str(message.get("local_symbol"))])
        except Exception as error:
            return {"ok": False, "error": str(error)}
        worker.instruments = worker.instruments | set(names)
        return {"ok": True}

    # --- events to workers ------------------------------------------------------------------------
    def _on_event(self, topic: str, payload: Any) -> None:
        if topic == events.TRADING_DAY:
            self._roll_books(payload.current)
            return
        if topic == events.RISK and payload["kind"] == "kill":
            gevent.spawn(self.stop_all)  # off the publisher: stopping waits for the workers
            return
        if topic == events.TRADE and payload.strategy:
            self._book(payload.strategy).add(payload)
        if not self.workers or topic not in _FED:
            return
        independent = bool(self.runtime.get("INSTRUMENT_INDEPEND", True))
        for worker in list(self.workers.values()):
            if topic in (events.ORDER, events.TRADE) and payload.strategy != worker.name:
                continue
            if topic in (events.TICK, events.BAR) and independent and payload.local_symbol not in worker.instruments:
                continue
            self._enqueue(worker, {"k": topic, "d": payload.to_dict()})
            if topic == events.TRADE:
                sizes, prices = self._marks()
                for position in self.books[worker.name].positions(payload.local_symbol, sizes, prices):
                    self._enqueue(worker, {"k": "position", "d": position})

    def _enqueue(self, worker: Worker, message: dict[str, Any]) -> None:
        try:
            worker.outbox.put_nowait(message)
        except Full:
            self._fail(worker, f"more than {self.limits.max_backlog} events behind: stopped (hung or too slow)")

    def _marks(self) -> tuple[dict[str, int], dict[str, float]]:
        oms = self.engine.oms
        sizes = {name: contract.size for name, contract in oms.contracts.items()}
        return sizes, {name: tick.last_price for name, tick in oms.ticks.items()}

    def pnl(self, name: str) -> list[dict[str, Any]]:
        """A strategy's positions and P&L from its own fills, marked to the latest ticks."""
        book = self.books.get(name)
        return book.all_positions(*self._marks()) if book else []

    def _state(self, name: str) -> dict[str, Any]:
        oms = self.engine.oms
        return {
            "account": oms.account.to_dict() if oms.account else None,
            "positions": self.books[name].all_positions(*self._marks()),
            "active_orders": [o.to_dict() for o in oms.active_orders() if o.strategy == name],
            "contracts": [c.to_dict() for c in oms.contracts.values()],
        }


RECONCILE_ACTIONS = ("adopt", "flatten")
_FED = frozenset({events.TICK, events.BAR, events.ORDER, events.TRADE, events.ACCOUNT})
_COMMANDS = {
    "order": StrategyManager._order,
    "cancel": StrategyManager._cancel,
    "cancel_all": StrategyManager._cancel_all,
    "subscribe": StrategyManager._subscribe,
    "load_bars": StrategyManager._load_bars,
    "main_contract": StrategyManager._main_contract,
}
OPEN_INTEREST_WAIT = 5.0  # seconds main_contract() waits for the login's open-interest query
MAX_WARMUP_BARS = 20_000  # 20 trading days of 1-minute bars of a night-session product: ~11,000


def _refused_order(message: dict[str, Any], strategy: str, reason: str) -> dict[str, Any]:
    """What a strategy's on_order gets for an order refused before it reached the counter: no order id
    (none was taken), status rejected, the refusal as its status message."""
    return {"order_id": "", "local_symbol": str(message.get("local_symbol", "")), "direction": message.get("direction"),
            "offset": message.get("offset"), "type": message.get("type", "limit"), "price": message.get("price"),
            "volume": message.get("volume"), "traded": 0, "status": Status.REJECTED.value, "status_msg": reason,
            "strategy": strategy}  # fmt: skip


def _level(value: Any) -> str:
    return value if value in ("DEBUG", "INFO", "WARNING", "ERROR") else "INFO"
