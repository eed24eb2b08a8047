"""Schemathesis against the real server's /openapi.json: valid and invalid requests on every operation.

Whatever comes in, the answer is never a 5xx and always the JSON envelope (except /openapi.json and
/asyncapi.json, the raw documents). Requests the API refuses change nothing: every order that exists afterwards was
answered as sent. /logout and /auth_code are left out (they would revoke the token or change the
code under the fuzzer); tests/integration/test_web_api.py covers them by hand.

Before it, what a schema does not generate (issue 16): JSON nested 100,000 deep (before any token
check, on /login; on a protected route; in a Socket.IO message), and tests/hostile_input.py's values
(booleans and huge numbers as numbers, NaN, odd Unicode, lists for scalars) in every field of every
route: never a 5xx, no traceback in the server's log. /login, /logout and /auth_code are walked in
process (tests/integration/test_bad_input.py), where their failed-attempt limit can be reset.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.e2e.conftest import Desk, SocketFactory
from tests.hostile_input import DEEP, Attempt, attempts
from tests.hostile_input import problem as hostile_problem

pytestmark = pytest.mark.slow

DOCUMENTS = {"/openapi.json": "paths", "/asyncapi.json": "channels"}  # answered as themselves, not the envelope
EXCLUDED = ("/logout", "/auth_code", "/sim/settle")  # settling would roll the shared server's trading day
EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 10}
SLOW = {"/check_code": 3, "/run_code": 5}  # each example runs pylint / a sandboxed process: fewer of them
ORDER_PATHS = {("POST", "/order_solve"), ("POST", "/close_position")}


URI_LIMIT = 8192  # gevent pywsgi's MAX_REQUEST_LINE: longer request lines never reach the app
HEADER_LIMIT = 32768  # run.py's MAX_HEADER_BYTES: all header lines together (431 past it)


DEEP_ARRAY = b"[" * DEEP + b"]" * DEEP
TOO_DEEP = "the JSON body is nested deeper than 64 levels"
JSON = {"Content-Type": "application/json"}


def _tracebacks(desk: Desk) -> int:
    return desk.server.log_tail(size=10**8).count("Traceback")


def test_json_nested_100000_deep_is_a_400_on_login_without_a_token(desk: Desk):
    # /login parses its body before anything else: the nesting is refused before the parser recurses
    before = _tracebacks(desk)
    response = requests.post(desk.url("/login"), data=DEEP_ARRAY, headers=JSON, timeout=10)
    assert response.status_code == 400, response.text[:300]
    assert response.json() == {"success": False, "msg": TOO_DEEP, "data": ""}
    assert _tracebacks(desk) == before, desk.server.log_tail()


def test_json_nested_100000_deep_is_a_400_on_a_protected_route_and_places_nothing(desk: Desk):
    api = desk.api
    before = api.get("/order_solve").json()["data"]["order_list"]
    for body in (DEEP_ARRAY, b'{"local_symbol": "m2601.DCE", "volume": ' + DEEP_ARRAY + b"}"):
        response = api.post("/order_solve", data=body, headers=JSON)
        assert (response.status_code, response.json()["msg"]) == (400, TOO_DEEP), response.text[:300]
    assert api.get("/order_solve").json()["data"]["order_list"] == before
    assert requests.get(desk.url("/health"), timeout=10).status_code == 200


@pytest.mark.parametrize("message", [
    '2["watch",' + "[" * DEEP + "]" * DEEP + "]",  # a Socket.IO event whose data nests 100,000 deep
    "[" * DEEP + "]" * DEEP,  # an Engine.IO message of JSON that deep (Engine.IO tries every message as JSON)
    "9" * 200,  # no packet at all: a Socket.IO id longer than python-socketio reads
], ids=["event", "engine.io message", "bad id"])  # fmt: skip
def test_a_socket_message_that_does_not_decode_disconnects_its_sender_quietly(desk: Desk, sockets: SocketFactory,
                                                                             message: str):  # fmt: skip
    before = _tracebacks(desk)
    bystander = sockets(desk, desk.token)
    sender = sockets(desk, desk.token)
    sid = sender.client.eio.sid
    for _ in range(3):
        sender.client.eio.send(message)
    assert sender.events.disconnected.wait(10), "the sender is still connected"
    assert _tracebacks(desk) == before, desk.server.log_tail()
    assert f"socket {sid} sent a malformed packet" in desk.server.log_tail()
    answer = bystander.client.call("watch", {"symbols": []}, timeout=10)  # the others go on as before
    assert answer["success"] is True, answer


WALKERS = 3  # concurrent clients: the server answers on one event loop, the clients' own time overlaps


def test_hostile_values_in_every_field_of_every_route_are_never_a_5xx(desk: Desk):
    """tests/hostile_input.py on every route but those checking a secret: never a 5xx, always the envelope,
    and nothing logged as a traceback."""
    api = desk.api
    name = sorted(item["local_symbol"] for item in api.get("/contract", params={"exchange": "DCE"}).json()["data"])[0]
    assert api.post("/market", json={"symbol": name}).status_code == 200
    config, risk = api.get("/config").json()["data"], api.get("/risk").json()["data"]
    before = _tracebacks(desk)
    document = requests.get(desk.url("/openapi.json"), timeout=10).json()
    walkers = [desk.session(desk.token) for _ in range(WALKERS)]

    def send(numbered: tuple[int, Attempt]) -> str | None:
        index, attempt = numbered
        headers = {"Content-Type": attempt.content_type} if attempt.content_type else {}
        response = walkers[index % WALKERS].request(attempt.method, attempt.path, data=attempt.body, headers=headers)
        found = hostile_problem(response.status_code, response.headers.get("Content-Type", ""), response.content,
                                len(response.request.url or ""))  # fmt: skip
        return f"{attempt.method} {attempt.path[:80]} [{attempt.label}]: {found}" if found else None

    try:
        with ThreadPoolExecutor(WALKERS) as pool:
            answers = list(pool.map(send, enumerate(attempts(document, name, excluded=(*EXCLUDED, "/login")))))
    finally:  # what the walk may have changed: the kill switch, the settings, the limits
        api.delete("/kill")
        api.put("/config", json=config)
        api.put("/risk", json={**risk["limits"], "strategies": risk["strategies"]})
    problems = [answer for answer in answers if answer]
    assert len(answers) > 3000
    assert problems == [], "\n".join(problems[:30])
    assert _tracebacks(desk) == before, desk.server.log_tail()


def _problem(response: Any) -> str | None:
    """What is wrong with one answer, or None."""
    if response.status_code == 414 and len(response.request.url) > URI_LIMIT:
        return None  # the WSGI server's own answer: test_an_over_long_url_is_answered_in_the_envelope_too
    if response.status_code >= 500:
        return f"server error {response.status_code}"
    content_type = ";".join(response.headers.get("content-type", []))
    if response.status_code == 200 and content_type.startswith("text/x-python"):  # GET /code?download=1: the file
        disposition = ";".join(response.headers.get("content-disposition", []))
        return None if disposition.startswith('attachment; filename="') else f"a file without a name: {disposition!r}"
    if not content_type.startswith("application/json"):
        return f"not JSON but {content_type!r}"
    try:
        body = json.loads(response.content)
    except ValueError:
        return "a body that does not parse as JSON"
    document = DOCUMENTS.get(response.request.path_url.split("?")[0])
    if document is not None:
        return None if isinstance(body, dict) and document in body else f"not the document ({document} missing)"
    if not isinstance(body, dict) or set(body) != {"success", "msg", "data"}:
        return f"not the envelope: {str(body)[:200]}"
    if body["success"] is not (200 <= response.status_code < 300) or not isinstance(body["msg"], str):
        return f"success/msg do not match status {response.status_code}: {str(body)[:200]}"
    return None


def _orders_in(data: Any) -> list[dict[str, Any]]:
    items = data if isinstance(data, list) else [data]
    return [item for item in items if isinstance(item, dict) and "order_id" in item]


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)
    answered: dict[str, int] = field(default_factory=dict)  # order_id -> status of the answer carrying it
    statuses: dict[str, set[int]] = field(default_factory=dict)


def _fuzz(operation: Any, mode: GenerationMode, desk: Desk, headers: dict[str, str], findings: Findings) -> None:
    examples = min(EXAMPLES[mode], SLOW.get(operation.path, EXAMPLES[mode]))

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=operation.as_strategy(generation_mode=mode))
    def exercise(case: Any) -> None:
        response = case.call(base_url=desk.base, headers=headers, timeout=15)
        findings.statuses.setdefault(operation.label, set()).add(response.status_code)
        problem = _problem(response)
        if problem is not None:
            findings.problems.append(f"{operation.label} [{mode.value}]: {problem}\n    {case.as_curl_command()}")
        elif (operation.method.upper(), operation.path) in ORDER_PATHS:
            for order in _orders_in(json.loads(response.content)["data"]):
                findings.answered[order["order_id"]] = response.status_code

    try:
        exercise()
    except Unsatisfiable:  # nothing invalid to generate (an operation without fields)
        pass


def test_fuzzing_every_operation_keeps_the_envelope_and_refused_requests_change_nothing(desk: Desk):
    api = desk.api
    name = sorted(item["local_symbol"] for item in api.get("/contract", params={"exchange": "DCE"}).json()["data"])[0]
    assert api.post("/market", json={"symbol": name}).status_code == 200
    before = {order["order_id"] for order in api.get("/order_solve").json()["data"]["order_list"]}
    headers = {"Authorization": f"JWT {desk.token}"}

    schema = schemathesis.openapi.from_url(desk.url("/openapi.json"))
    findings = Findings()
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [operation for operation in operations if operation.path not in EXCLUDED]
    for operation in operations:
        for mode in EXAMPLES:
            _fuzz(operation, mode, desk, headers, findings)

    assert len(operations) >= 15, [operation.label for operation in operations]
    assert findings.problems == [], "\n".join(findings.problems[:20])
    # negative cases include requests without the token (401); the valid token got through everywhere
    assert all(codes - {401} for codes in findings.statuses.values()), findings.statuses
    # refused requests changed nothing: every new order was answered as sent (or as the counter's reject)
    after = {order["order_id"]: order for order in api.get("/order_solve").json()["data"]["order_list"]}
    unexplained = sorted(set(after) - before - set(findings.answered))
    assert unexplained == [], [after[order_id] for order_id in unexplained]
    for order_id, status in findings.answered.items():
        if status != 200:
            assert after[order_id]["status"] == "rejected", after[order_id]
    # the fuzzer's token still works and the desk is still logged in
    assert api.get("/status").json()["data"]["td"]["state"] == "ready"


@pytest.mark.parametrize(("where", "status"), [("url", 414), ("header", 431)])
def test_requests_the_server_refuses_before_the_app_are_answered_in_the_envelope_too(desk: Desk, where: str,
                                                                                     status: int):  # fmt: skip
    # gevent's server refuses these itself (run.py's EnvelopeHandler): they never reach Flask.
    long = "a" * (URI_LIMIT + 100)
    header = "a" * (HEADER_LIMIT + 100)
    headers = {"Authorization": f"JWT {desk.token}", **({"X-Long": header} if where == "header" else {})}
    response = requests.get(desk.url("/market"), params={"symbol": long} if where == "url" else {},
                            headers=headers, timeout=10)  # fmt: skip
    assert response.status_code == status
    assert response.headers.get("Content-Type", "").startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"success", "msg", "data"} and body["success"] is False and body["msg"]
    assert requests.get(desk.url("/health"), timeout=10).status_code == 200  # the server goes on serving
