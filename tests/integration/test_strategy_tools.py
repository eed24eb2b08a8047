"""Issue 17 item 10, the strategy tools: .py upload and download, runtime errors with the user's line and a
short traceback, and `params` overridden at start (checked, saved, resumed).

Real worker processes on the sim, through the API, as in test_strategies.py.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest

from backend import sim
from backend.app import create_app, shutdown
from backend.engine import events
from tests.integration.test_strategies import HEADER, Desk, code, crashed_with_a_strategy, make_desk

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    yield from make_desk(tmp_path)


def upload(desk: Desk, content: bytes, filename: str = "mine.py", **fields: str) -> Any:
    data: dict[str, Any] = {"file": (io.BytesIO(content), filename), **fields}
    return desk.client.post("/code", data=data, headers=desk.headers, content_type="multipart/form-data")


def lines_of(desk: Desk, name: str) -> list[str]:
    return [record.message for record in desk.app.extensions["ctpdesk"].engine.logs if record.owner == name]


# --- upload and download ---------------------------------------------------------------------------


def test_a_py_file_uploads_named_by_its_ext_never_by_its_file_name(desk: Desk):
    text = (ROOT / "strategies" / "double_ma.py").read_text(encoding="utf-8")
    response = upload(desk, text.encode(), filename="../../etc/evil_name.py")
    assert response.status_code == 200, response.json
    assert response.json["data"]["name"] == "double_ma"
    assert desk.call("get", "/code?name=double_ma").json["data"]["text"] == text
    assert [item["name"] for item in desk.call("get", "/strategy").json["data"]] == ["double_ma"]
    # A `name` field names it instead; a byte-order mark (Windows editors) is dropped.
    named = upload(desk, b"\xef\xbb\xbf" + text.encode(), name="my_ma")
    assert named.status_code == 200 and named.json["data"]["name"] == "my_ma"
    assert desk.call("get", "/code?name=my_ma").json["data"]["text"] == text


@pytest.mark.parametrize(
    ("content", "filename", "fields", "status", "said"),
    [
        (b"x = 1\n", "notes.txt", {}, 400, ".py"),
        (b"\xff\xfe x = 1\n", "mine.py", {}, 400, "UTF-8"),
        (b"", "mine.py", {}, 400, "empty"),
        (b"x = (\n", "mine.py", {"name": "broken"}, 400, "line 1"),
        (b"x = 1\n", "mine.py", {}, 400, "`ext = "),  # no name and no ext to take it from
        (b"x = 1\n", "mine.py", {"name": "../etc/passwd"}, 400, "name"),
        (b"#" * 200_001, "mine.py", {"name": "huge"}, 413, "200000"),
    ],
    ids=["not_py", "not_utf8", "empty", "syntax", "no_name", "path_name", "too_big"],
)
def test_a_bad_upload_is_refused_in_the_envelope(desk: Desk, content, filename, fields, status, said):
    response = upload(desk, content, filename, **fields)
    assert response.status_code == status, response.json
    assert response.json["success"] is False and said in response.json["msg"], response.json
    assert desk.call("get", "/strategy").json["data"] == []


def test_a_far_too_big_form_is_refused_before_it_is_parsed(desk: Desk):
    boundary = "x" * 16
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.py"\r\n\r\n'.encode()
            + b"#" * 900_000 + f"\r\n--{boundary}--\r\n".encode())  # built here: the test client would spool it
    response = desk.client.post("/code", data=body, headers=desk.headers,
                                content_type=f"multipart/form-data; boundary={boundary}")  # fmt: skip
    assert response.status_code == 413 and "200000" in response.json["msg"], response.json


def test_the_code_downloads_as_a_py_attachment_named_by_the_strategy(desk: Desk):
    text = HEADER + "\n\nclass S(Strategy):\n    params = {'fast': 5}\n\n\next = S('dl_me')  # ünïcode\n"
    assert desk.call("post", "/code", text=text).status_code == 200
    response = desk.client.get("/code?name=dl_me&download=1", headers=desk.headers)
    assert response.status_code == 200
    assert response.mimetype == "text/x-python"
    assert response.headers["Content-Disposition"] == 'attachment; filename="dl_me.py"'
    assert response.get_data(as_text=True) == text  # byte for byte what was saved
    assert desk.client.get("/code?name=dl_me&download=1").status_code == 401
    missing = desk.client.get("/code?name=nobody&download=1", headers=desk.headers)
    assert missing.status_code == 404 and missing.json["success"] is False
    assert desk.client.get("/code?name=../x&download=1", headers=desk.headers).status_code == 400


# --- runtime errors --------------------------------------------------------------------------------

DIVIDER = """
    def on_tick(self, tick):
        self.ratio(tick)

    def ratio(self, tick):
        return tick.last_price / 0
"""


def test_a_runtime_error_gives_the_users_line_and_a_short_traceback(desk: Desk):
    instrument = desk.contract("m", "DCE")
    text = code("divider", instrument, DIVIDER)
    call_line = text.splitlines().index("        self.ratio(tick)") + 1
    error_line = text.splitlines().index("        return tick.last_price / 0") + 1
    heard: list[dict[str, Any]] = []
    engine = desk.app.extensions["ctpdesk"].engine
    engine.bus.subscribe(events.STRATEGY, lambda topic, payload: heard.append(payload))  # the Socket.IO event
    desk.call("post", "/code", text=text)
    desk.call("put", "/strategy", name="divider", operation="start")
    state = desk.wait(lambda: (s := desk.state("divider"))["status"] == "error" and s, what="the error")
    error = state["error"]
    assert error.splitlines()[0] == f"ZeroDivisionError: float division by zero (line {error_line}, in ratio)"
    assert f"line {call_line}, in on_tick\n    self.ratio(tick)" in error, error
    assert f"line {error_line}, in ratio\n    return tick.last_price / 0" in error, error
    assert "dispatch.py" not in error and "worker.py" not in error and "File " not in error, error
    assert any(payload["status"] == "error" and payload["error"] == error for payload in heard), heard
    assert any(f"line {error_line}, in ratio" in line for line in lines_of(desk, "divider"))


RECURSER = """
    def on_tick(self, tick):
        self.deeper(50)

    def deeper(self, depth):
        return self.deeper(depth - 1) if depth else int("nope")
"""


def test_a_deep_traceback_keeps_only_the_last_five_of_the_users_frames(desk: Desk):
    instrument = desk.contract("m", "DCE")
    desk.call("post", "/code", text=code("recurser", instrument, RECURSER))
    desk.call("put", "/strategy", name="recurser", operation="start")
    state = desk.wait(lambda: (s := desk.state("recurser"))["status"] == "error" and s, what="the error")
    error = state["error"]
    assert error.startswith("ValueError: invalid literal for int() with base 10: 'nope' (line "), error
    assert error.count(", in deeper\n") == 5 and ", in on_tick" not in error, error


# --- params ----------------------------------------------------------------------------------------

PARAMETRIC = """
    params = {"fast": 5, "slow": 20.0, "product": "m", "live": False, "extra": None}

    def on_init(self):
        self.info("params " + __import__("json").dumps(self.params, sort_keys=True))
"""


def started_with(desk: Desk, name: str, count: int = 1) -> dict[str, Any]:
    """The params the worker's on_init saw, by the `count`th start's log line."""
    lines = desk.wait(lambda: (found := [line for line in lines_of(desk, name) if line.startswith("params ")])
                      and len(found) >= count and found, what=f"start {count} of {name}")  # fmt: skip
    return json.loads(lines[count - 1].removeprefix("params "))


def test_params_given_at_start_override_the_defaults_are_shown_and_kept(desk: Desk):
    instrument = desk.contract("m", "DCE")
    defaults = {"fast": 5, "slow": 20.0, "product": "m", "live": False, "extra": None}
    assert desk.call("post", "/code", text=code("param", instrument, PARAMETRIC)).json["data"]["params"] == defaults
    given = {"fast": 8, "slow": 30, "live": True, "extra": [1, "x"]}
    started = desk.call("put", "/strategy", name="param", operation="start", params=given)
    assert started.status_code == 200, started.json
    assert started_with(desk, "param") == {**defaults, **given}
    assert desk.state("param")["params"] == {**defaults, **given}
    # Running: other params need a stop first.
    busy = desk.call("put", "/strategy", name="param", operation="start", params={"fast": 9})
    assert busy.status_code == 409 and busy.json["success"] is False
    # A start without params takes the saved ones; {} goes back to the defaults.
    desk.call("put", "/strategy", name="param", operation="stop")
    desk.call("put", "/strategy", name="param", operation="start")
    assert started_with(desk, "param", 2) == {**defaults, **given}
    desk.call("put", "/strategy", name="param", operation="stop")
    desk.call("put", "/strategy", name="param", operation="start", params={})
    assert started_with(desk, "param", 3) == defaults
    assert desk.state("param")["params"] == defaults


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ({"nope": 1}, "params.nope: not a parameter"),
        ({"fast": True}, "params.fast: expected integer"),  # a bool is not a number
        ({"fast": 5.5}, "params.fast: expected integer"),
        ({"slow": "30"}, "params.slow: expected number"),
        ({"live": 1}, "params.live: expected boolean"),
        ({"product": 3}, "params.product: expected string"),
        ([1, 2], "params"),
        ("not json", "params"),
    ],
    ids=["unknown", "bool_for_int", "float_for_int", "str_for_float", "int_for_bool", "int_for_str", "list", "text"],
)
def test_params_of_another_key_or_type_are_refused(desk: Desk, params: Any, said: str):
    desk.call("post", "/code", text=code("param", "m2609.DCE", PARAMETRIC))
    response = desk.call("put", "/strategy", name="param", operation="start", params=params)
    assert response.status_code == 400, response.json
    assert response.json["success"] is False and said in response.json["msg"], response.json
    assert desk.state("param")["status"] == "stopped"
    assert "param" not in desk.app.extensions["ctpdesk"].strategies.workers


def test_a_restarted_server_resumes_a_strategy_with_its_saved_params(tmp_path: Path):
    settings = crashed_with_a_strategy(tmp_path, "keeper", PARAMETRIC, params={"fast": 13})
    name = settings.SIM_NAME
    second = create_app(settings)
    try:
        logs = second.extensions["ctpdesk"].engine.logs
        with gevent.Timeout(30, AssertionError("the resumed strategy did not say its params")):
            while not (lines := [r.message for r in logs if r.owner == "keeper" and r.message.startswith("params ")]):
                gevent.wait(timeout=0.05)
        assert json.loads(lines[0].removeprefix("params "))["fast"] == 13
        listing = second.extensions["ctpdesk"].strategies.listing()
        assert [(s["name"], s["params"]["fast"]) for s in listing] == [("keeper", 13)]
    finally:
        shutdown(second)
        sim.shutdown(name)
