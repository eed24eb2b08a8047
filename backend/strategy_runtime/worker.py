"""A strategy worker process: `python -m backend.strategy_runtime.worker`.

Reads events from stdin and writes commands to a private copy of stdout (JSON lines, protocol.py).
User code that prints writes log lines, never into the protocol; fork, exec and subprocess are
refused by an audit hook, and so (lib/fileguard.py) are writes outside the strategy's own directory
(the working directory the server starts it in) and any access to the server's data directory and
config.yaml (workdir.py). A callback that raises ends the worker; the reason it gives is the error with
the line of the user's file it came from and a short traceback of the user's frames only (user_error).
"""

from __future__ import annotations

import linecache
import os
import select
import sys
from typing import Any

# the limits and guards are shared with the lab's backtest children (backend/lab/child.py)
from backend.strategy_runtime.guards import protect as _protect
from backend.strategy_runtime.guards import set_limits as _limits
from backend.strategy_runtime.guards import user_error
from backend.strategy_runtime.protocol import MAX_SERVER_LINE, decode, encode
from backend.strategy_runtime.throttle import WORKER_LOG_RATE, LogThrottle, dropped_message

TIMER = 1.0  # seconds between on_realtime calls
MAX_LOG_LINE = 2000  # characters of one log line; a longer one (or a line that never ends) is cut here


class Channel:
    """Line-based reading of stdin (with a timeout) and writing of the private protocol stream."""

    def __init__(self, out_fd: int) -> None:
        self._out = out_fd
        self._buffer = b""
        self._pending: list[dict[str, Any]] = []  # events read while waiting for a reply
        self._next_id = 0
        self._throttle = LogThrottle(WORKER_LOG_RATE)
        self.closed = False

    def send(self, message: dict[str, Any]) -> None:
        data = encode(message)
        while data:
            data = data[os.write(self._out, data) :]

    def log(self, level: str, message: str) -> None:
        """One log line, unless this second's allowance is spent (then it is counted and said later)."""
        if self._throttle.allow():
            self.send({"k": "log", "level": level, "message": message[:MAX_LOG_LINE]})
        self.report_dropped()

    def report_dropped(self) -> None:
        dropped = self._throttle.report()
        if dropped:
            self.send({"k": "log", "level": "WARNING", "message": dropped_message(dropped, WORKER_LOG_RATE)})

    def read(self, timeout: float) -> dict[str, Any] | None:
        """The next event: first those that arrived while a command waited for its reply."""
        if self._pending:
            return self._pending.pop(0)
        return self._read_pipe(timeout)

    def _read_pipe(self, timeout: float) -> dict[str, Any] | None:
        while b"\n" not in self._buffer:
            ready, _, _ = select.select([0], [], [], timeout)
            if not ready:
                return None
            chunk = os.read(0, 65536)
            if not chunk:
                self.closed = True
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return decode(line, MAX_SERVER_LINE)

    def request(self, command: dict[str, Any]) -> dict[str, Any] | None:
        """Send a command; wait for its reply (unless it wants none), keeping other messages for later."""
        if command.get("k") == "log":
            self.log(str(command.get("level", "INFO")), str(command.get("message", "")))
            return None
        if command.pop("noreply", False):
            self.send(command)
            return None
        self._next_id += 1
        command["id"] = self._next_id
        self.send(command)
        while True:
            message = self._read_pipe(timeout=30.0)
            if message is None:
                if self.closed:
                    raise SystemExit(0)
                raise TimeoutError("the server did not answer a command within 30 s")
            if message["k"] == "reply" and message.get("id") == command["id"]:
                return message
            self._pending.append(message)


class LogWriter:
    """sys.stdout/sys.stderr of user code: lines become (throttled) log messages.

    A carriage return ends a line too: progress bars (tqdm) redraw one line with \r and may never
    write a newline, and a line that never ends must not grow without bound.
    """

    def __init__(self, channel: Channel, level: str) -> None:
        self._channel = channel
        self._level = level
        self._line = ""

    def write(self, text: str) -> int:
        self._line += text
        while True:
            end = _line_end(self._line)
            if end < 0:
                break
            line, self._line = self._line[:end], self._line[end + 1 :]
            self._emit(line)
        if len(self._line) > MAX_LOG_LINE:
            self._emit(self._line)
            self._line = ""
        return len(text)

    def _emit(self, line: str) -> None:
        if line.strip():
            self._channel.log(self._level, line)

    def flush(self) -> None:
        pass


def _line_end(text: str) -> int:
    """Where the first line of `text` ends (a newline or a carriage return), -1 when it does not yet."""
    ends = [at for at in (text.find("\n"), text.find("\r")) if at >= 0]
    return min(ends) if ends else -1


def code_file(name: str) -> str:
    """The file name the user's code is compiled under: its frames are the tracebacks' user frames."""
    return f"<strategy {name}>"


def _load(message: dict[str, Any], channel: Channel) -> Any:
    from backend.strategy import Strategy

    filename, text = code_file(message["name"]), message["code"]
    # The source where traceback looks for it: the user's frames then show their lines of code.
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    namespace: dict[str, Any] = {"__name__": "strategy"}
    exec(compile(text, filename, "exec"), namespace)  # noqa: S102 - the point
    strategy = namespace.get("ext")
    if not isinstance(strategy, Strategy):
        raise TypeError('the code must define `ext = YourStrategy("name")`, an instance of Strategy')
    # The class's params with the start's overrides (checked by the server against the declared ones),
    # on the instance: the class's dict stays as declared.
    strategy.params = {**(strategy.params or {}), **(message.get("params") or {})}
    strategy._send = channel.request
    return strategy


def main() -> int:
    _limits()
    out_fd = os.dup(1)
    os.dup2(2, 1)  # anything written to fd 1 from here on goes to stderr, never into the protocol
    channel = Channel(out_fd)
    sys.stdout = LogWriter(channel, "INFO")  # type: ignore[assignment]
    sys.stderr = LogWriter(channel, "WARNING")  # type: ignore[assignment]
    _protect()
    from backend.strategy_runtime.dispatch import Dispatcher

    init = channel.read(timeout=30.0)
    if init is None or init["k"] != "init":
        return 2
    filename = code_file(str(init.get("name", "")))
    try:
        strategy = _load(init, channel)
        dispatcher = Dispatcher(strategy, init.get("state", {}))
        channel.send({"k": "ready", "instruments": list(strategy.instruments), "bar_interval": strategy.bar_interval})
        strategy.on_init()
        while True:
            message = channel.read(timeout=TIMER)
            if message is None:
                if channel.closed:
                    return 0
                channel.report_dropped()
                strategy.on_realtime()
                continue
            if message["k"] == "stop":
                strategy.on_stop()
                return 0
            if message["k"] == "ping":
                channel.send({"k": "pong"})
                continue
            dispatcher.dispatch(message)
    except SystemExit:
        raise
    except BaseException as error:  # noqa: BLE001 - whatever user code raised is the reason it stopped
        try:
            reason = user_error(error, filename)
        except Exception:  # noqa: BLE001 - a user exception whose __str__ raises still stops the worker
            reason = type(error).__name__
        channel.send({"k": "error", "message": reason})
        return 1


if __name__ == "__main__":
    sys.exit(main())
