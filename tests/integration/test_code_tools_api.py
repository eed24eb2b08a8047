"""POST /check_code and POST /run_code through the app, and both under gevent as the server runs them."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend import sim
from backend.app import create_app, shutdown
from lib import lint as lint_module
from lib import sandbox
from lib.config import load_settings

ROOT = Path(__file__).resolve().parents[2]
ACCESS = "code-tools-tests-code"
_names = itertools.count()


class Client:
    def __init__(self, app: Any, token: str) -> None:
        self.client = app.test_client()
        self.headers = {"Authorization": f"JWT {token}"}

    def post(self, path: str, authorized: bool = True, **fields: Any) -> Any:
        return self.client.post(path, json=fields, headers=self.headers if authorized else {})


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    name = f"codetools{os.getpid()}_{next(_names)}"
    settings = load_settings(None, environ={}, DATA_DIR=str(tmp_path), ACCESS_CODE=ACCESS, SIM_NAME=name)
    app = create_app(settings)
    try:
        login = app.test_client().post("/login", json={"authorization": ACCESS, "userid": "demo", "password": "demo"})
        assert login.status_code == 200, login.json
        yield Client(app, login.json["data"])
    finally:
        shutdown(app)
        sim.shutdown(name)


def test_check_code_returns_structured_messages(client: Client) -> None:
    response = client.post("/check_code", text="\n\nprint(undefined_name)\n")
    assert response.status_code == 200, response.json
    assert response.json["success"] is True
    assert response.json["data"] == [{
        "line": 3, "column": 6, "code": "E0602", "error": "undefined-variable",
        "message": "Undefined variable 'undefined_name'", "type": "error",
    }]  # fmt: skip


def test_check_code_reports_a_syntax_error_as_e0001(client: Client) -> None:
    data = client.post("/check_code", text="X = 1\ndef broken(:\n").json["data"]
    assert [(item["code"], item["line"]) for item in data] == [("E0001", 2)]


def test_check_code_strategy_imports_resolve(client: Client) -> None:
    data = client.post("/check_code", text="from backend.engine.constants import Direction\n\nprint(Direction)\n").json
    assert data["success"] and not [item for item in data["data"] if item["type"] in ("error", "fatal")]


def test_run_code_returns_output(client: Client) -> None:
    response = client.post("/run_code", text="import sys\nprint('hello from the sandbox')\nsys.exit(2)\n")
    assert response.status_code == 200, response.json
    data = response.json["data"]
    assert set(data) == {"output", "exit_code", "timed_out", "duration_ms"}
    assert (data["output"], data["exit_code"], data["timed_out"]) == ("hello from the sandbox\n", 2, False)


def test_run_code_keeps_indentation_and_reports_exceptions(client: Client) -> None:
    data = client.post("/run_code", text="    x = 1\n").json["data"]  # stripping would hide this error
    assert data["exit_code"] == 1 and "IndentationError" in data["output"]


def test_run_code_can_import_the_strategy_api_as_a_worker_does(client: Client) -> None:
    """A strategy file runs in the sandbox before it is started: its base class is importable there."""
    text = (Path(__file__).resolve().parents[2] / "strategies" / "tick_momentum.py").read_text(encoding="utf-8")
    text += "\nprint(type(ext).__name__, ext.name, ext.params['run'])\n"
    data = client.post("/run_code", text=text).json["data"]
    assert (data["exit_code"], data["output"]) == (0, "TickMomentum tick_momentum 3\n"), data


@pytest.mark.parametrize("path", ["/check_code", "/run_code"])
def test_missing_text_is_400(client: Client, path: str) -> None:
    for fields in ({}, {"text": ""}, {"text": "x" * 200_001}):
        response = client.post(path, **fields)
        assert response.status_code == 400, (fields.keys(), response.json)
        assert response.json["success"] is False and response.json["msg"].startswith("text")


@pytest.mark.parametrize("path", ["/check_code", "/run_code"])
def test_no_token_is_401(client: Client, path: str) -> None:
    response = client.post(path, authorized=False, text="print(1)\n")
    assert response.status_code == 401
    assert response.json["msg"] == "token error"


def test_busy_is_429(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    held = []
    for module in (lint_module, sandbox):
        monkeypatch.setattr(module, "SLOT_WAIT", 0.01)  # don't wait 10 s for a slot that stays taken
        while module._slots.acquire(blocking=False):
            held.append(module._slots)
    try:
        for path in ("/check_code", "/run_code"):
            response = client.post(path, text="print(1)\n")
            assert response.status_code == 429, response.json
            assert response.json["msg"] == "busy: try again"
    finally:
        for slots in held:
            slots.release()


def test_both_are_listed_in_the_openapi_document(client: Client) -> None:
    paths = client.client.get("/openapi.json").json["paths"]
    for path in ("/check_code", "/run_code"):
        operation = paths[path]["post"]
        assert operation["security"] == [{"jwt": []}]
        assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/CodeRequest")


# Run in a fresh interpreter under gevent's monkey-patching, as the server runs the views: the child
# processes are gevent's, every wait is cooperative, and a quick snippet finishes while pylint works.
GEVENT_SCRIPT = r"""
from gevent import monkey
monkey.patch_all()

import json
import gevent
from lib.lint import lint
from lib.sandbox import run_snippet

finished = []

def job(name, function, *args, **kwargs):
    result = function(*args, **kwargs)
    finished.append(name)
    return result

slow = gevent.spawn(job, "lint", lint, "print(undefined_name)\n")
quick = gevent.spawn(job, "snippet", run_snippet, "import sys\nprint('hi')\nsys.exit(3)\n")
looping = gevent.spawn(job, "timeout", run_snippet, "while True:\n    pass\n", timeout=1.0)
gevent.joinall([slow, quick, looping], raise_error=True)
print(json.dumps({
    "finished": finished,
    "lint": [message.code for message in slow.value],
    "snippet": [quick.value.output, quick.value.exit_code],
    "timeout": [looping.value.timed_out, looping.value.exit_code < 0],
}))
"""


def test_lint_and_snippets_are_cooperative_under_gevent() -> None:
    env = {"PATH": os.environ.get("PATH", os.defpath), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", GEVENT_SCRIPT], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["lint"] == ["E0602"]
    assert seen["snippet"] == ["hi\n", 3]
    assert seen["timeout"] == [True, True]
    assert seen["finished"][0] == "snippet"  # the loop kept running while pylint worked


@pytest.mark.parametrize("example", sorted(path.name for path in (ROOT / "strategies").glob("*.py")
                                           if path.name != "__init__.py"))  # fmt: skip
def test_the_shipped_examples_lint_without_a_single_message(client: Client, example: str) -> None:
    """Issue 17: each example had 7 W0201 (attributes first set in on_init) pushing real errors down the list."""
    response = client.post("/check_code", text=(ROOT / "strategies" / example).read_text(encoding="utf-8"))
    assert response.status_code == 200, response.json
    assert response.json["data"] == [], response.json["data"]


def test_attributes_set_outside_init_and_on_init_are_still_reported(client: Client) -> None:
    """on_init counts as a defining method; any other method assigning a new attribute is still W0201."""
    text = "class A:\n    def on_init(self):\n        self.ok = 1\n\n    def on_tick(self):\n        self.late = 2\n"
    messages = client.post("/check_code", text=text).json["data"]
    assert [(m["line"], m["code"]) for m in messages] == [(6, "W0201")]
