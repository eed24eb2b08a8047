"""Origins and hosts through the whole app (views/origins.py), in process with Flask's test client:
ALLOWED_HOSTS on REST and /socket.io/, CORS_ORIGINS for preflights, answers and Engine.IO's
handshake, the same-origin desk behind nginx (ProxyFix), and the page's connect-src.
tests/e2e/test_origins.py does the same over a real server and in Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.test_web_api import ENVELOPE_KEYS, Web, make_web

FRONT = "https://ui.example.com"  # a front end served from its own origin, listed in CORS_ORIGINS
FOREIGN = "https://evil.example"
HANDSHAKE = "/socket.io/?EIO=4&transport=polling"
WRONG_LOGIN = {"authorization": "wrong-code", "userid": "demo", "password": "demo"}


def asking(origin: str, method: str, **more: str) -> dict[str, str]:
    """A browser's preflight headers."""
    return {"Origin": origin, "Access-Control-Request-Method": method, **more}


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    made = make_web(tmp_path_factory.mktemp("origins"), CORS_ORIGINS=FRONT)
    yield made
    made.close()


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    """As deploy/ runs it: behind nginx (ProxyFix), answering to its server name."""
    made = make_web(tmp_path_factory.mktemp("proxied"), BEHIND_PROXY=True, ALLOWED_HOSTS="desk.example.com")
    yield made
    made.close()


def answer(web: Web, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, str], Any]:
    response = web.client.open(path, method=method, **kwargs)
    try:
        body = response.get_json(silent=True) if response.is_json else response.get_data(as_text=True)
        return response.status_code, dict(response.headers), body
    finally:
        response.close()


def refused(status: int, body: Any, expected: int, message: str) -> bool:
    return status == expected and set(body) == ENVELOPE_KEYS and body["success"] is False and message in body["msg"]


def test_the_pages_connect_src_is_its_own_origin_only(web: Web) -> None:
    _, headers, _ = answer(web, "GET", "/")
    directives = dict(part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";"))
    assert directives["connect-src"] == "'self'"


@pytest.mark.parametrize(("method", "path"), [("GET", "/health"), ("POST", "/login"), ("GET", "/"),
                                              ("GET", HANDSHAKE), ("OPTIONS", "/login")])  # fmt: skip
def test_a_foreign_host_header_is_refused_in_the_envelope_everywhere(web: Web, method: str, path: str) -> None:
    status, _, body = answer(web, method, path, base_url="http://rebound.evil.example:5000/")
    assert refused(status, body, 400, "host not allowed"), (status, body)
    assert answer(web, "GET", "/health", base_url="http://127.0.0.1:5000/")[0] == 200


def test_a_listed_origins_preflight_is_answered_and_its_requests_carry_the_cors_headers(web: Web) -> None:
    wanted = asking(FRONT, "DELETE", **{"Access-Control-Request-Headers": "authorization,content-type"})
    status, headers, body = answer(web, "OPTIONS", "/order_solve", headers=wanted)
    assert status == 200 and body["success"] is True, (status, body)
    assert headers["Access-Control-Allow-Origin"] == FRONT
    assert set(headers["Access-Control-Allow-Methods"].split(", ")) == {"GET", "POST", "DELETE"}
    assert {"authorization", "content-type"} <= set(headers["Access-Control-Allow-Headers"].lower().split(", "))
    assert "Origin" in headers["Vary"] and int(headers["Access-Control-Max-Age"]) > 0
    # the request itself, and its errors: the front end can read the envelope
    status, headers, body = answer(web, "POST", "/login", json=WRONG_LOGIN, headers={"Origin": FRONT})
    assert refused(status, body, 403, "access code") and headers["Access-Control-Allow-Origin"] == FRONT
    assert "Origin" in headers["Vary"] and "Retry-After" in headers["Access-Control-Expose-Headers"]
    # a method the route does not take: no go-ahead
    status, headers, body = answer(web, "OPTIONS", "/health", headers=asking(FRONT, "DELETE"))
    assert refused(status, body, 405, "DELETE") and "Access-Control-Allow-Methods" not in headers


def test_an_unlisted_origin_gets_no_cors_headers_and_cannot_change_anything(web: Web) -> None:
    status, headers, body = answer(web, "OPTIONS", "/login", headers=asking(FOREIGN, "POST"))
    assert refused(status, body, 403, "origin not allowed") and "Access-Control-Allow-Origin" not in headers
    # a form POST needs no preflight: it is refused before /login ever checks the code
    status, headers, body = answer(web, "POST", "/login", data=WRONG_LOGIN, headers={"Origin": FOREIGN})
    assert refused(status, body, 403, "origin not allowed") and "Access-Control-Allow-Origin" not in headers
    # a GET is answered (it changes nothing) but without the header, so the browser keeps it from the page
    status, headers, _ = answer(web, "GET", "/health", headers={"Origin": FOREIGN})
    assert status == 200 and "Access-Control-Allow-Origin" not in headers


def test_socket_io_takes_the_desks_own_and_listed_origins_only(web: Web) -> None:
    status, _, body = answer(web, "GET", HANDSHAKE, headers={"Origin": FOREIGN})
    assert refused(status, body, 403, "origin not allowed"), (status, body)
    status, headers, body = answer(web, "GET", HANDSHAKE, headers={"Origin": FRONT})
    assert status == 200 and body.startswith("0{") and headers["Access-Control-Allow-Origin"] == FRONT
    status, _, body = answer(web, "GET", HANDSHAKE, headers={"Origin": "http://localhost"})  # the desk itself
    assert status == 200 and body.startswith("0{")


def test_without_cors_origins_every_other_origin_is_foreign(proxied: Web) -> None:
    own = {"X-Forwarded-Host": "desk.example.com", "X-Forwarded-Proto": "https"}
    status, headers, body = answer(proxied, "OPTIONS", "/login", headers={**own, **asking(FRONT, "POST")})
    assert refused(status, body, 403, "origin not allowed") and "Access-Control-Allow-Origin" not in headers
    status, _, body = answer(proxied, "GET", HANDSHAKE, headers={**own, "Origin": FRONT})
    assert refused(status, body, 403, "origin not allowed")


def test_behind_nginx_the_desk_is_same_origin_under_its_server_name(proxied: Web) -> None:
    """nginx forwards the browser's Host and scheme (X-Forwarded-Host, X-Forwarded-Proto): the desk's
    https page's own requests and socket pass; another name, or a forged Host without the proxy, do not."""
    own = {"X-Forwarded-Host": "desk.example.com", "X-Forwarded-Proto": "https", "X-Forwarded-For": "10.0.0.9"}
    status, _, body = answer(proxied, "GET", HANDSHAKE, headers={**own, "Origin": "https://desk.example.com"})
    assert status == 200 and body.startswith("0{"), (status, body)
    status, _, body = answer(proxied, "POST", "/login", json={"authorization": "wrong"},
                             headers={**own, "Origin": "https://desk.example.com"})  # fmt: skip
    assert status == 400 and "origin" not in body["msg"], body  # reached /login's own validation
    status, _, body = answer(proxied, "GET", HANDSHAKE, headers={**own, "Origin": "http://desk.example.com"})
    assert refused(status, body, 403, "origin not allowed")  # the same name over plain http is another origin
    forged = {**own, "X-Forwarded-Host": "rebound.evil.example"}
    assert refused(*answer(proxied, "GET", "/health", headers=forged)[::2], 400, "host not allowed")


def test_x_forwarded_host_counts_only_behind_the_proxy(web: Web) -> None:
    status, _, body = answer(web, "GET", "/health", base_url="http://rebound.evil.example/",
                             headers={"X-Forwarded-Host": "localhost"})  # fmt: skip
    assert refused(status, body, 400, "host not allowed")
