"""The browser desk's files: served by the app without a token, only by name from fixed tables."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_web_api import Web, make_web
from views import ui

LIBRARIES_INSTALLED = all((ui.MODULES / relative).is_file() for relative in ui.VENDOR.values())


def fetch(web: Web, path: str) -> tuple[int, str, bytes, dict[str, str]]:
    """GET without a token; the file response is read and closed (it holds the file open)."""
    response = web.client.get(path)
    try:
        return response.status_code, response.content_type, response.get_data(), dict(response.headers)
    finally:
        response.close()


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    made = make_web(tmp_path_factory.mktemp("desk"))
    yield made
    made.close()


def test_the_desk_page_is_served_at_the_root_with_a_strict_content_policy(web: Web) -> None:
    status, content_type, data, headers = fetch(web, "/")
    assert status == 200 and content_type.startswith("text/html")
    page = data.decode()
    assert '<section id="login-view"' in page and "/ui/app.js" in page
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-eval" not in policy
    assert headers["Cache-Control"] == "no-cache"


def test_the_desk_routes_are_exactly_the_pages_and_their_file_tables(web: Web) -> None:
    desk_rules = sorted(rule.rule for rule in web.app.url_map.iter_rules() if rule.endpoint.startswith("ui."))
    assert desk_rules == ["/", "/docs", "/ui/<name>", "/vendor/<name>"]
    for path in ("/", "/ui/app.js"):
        assert fetch(web, path)[0] == 200  # no token needed: the page holds no secrets


def test_every_file_the_page_names_is_served(web: Web) -> None:
    """The page's own references resolve: a renamed file cannot silently break the desk."""
    page = fetch(web, "/")[2].decode()
    own = {name for name in ui.OWN if f"/ui/{name}" in page}
    assert {"app.js", "desk.css"} <= own
    for name in own:
        status, content_type, _, _ = fetch(web, f"/ui/{name}")
        assert status == 200, name
        assert content_type.split(";")[0] == ui.CONTENT_TYPES[Path(name).suffix]
    for name in ui.VENDOR:
        assert f"/vendor/{name}" in page, f"{name} is in the table but the page does not load it"


def test_the_modules_import_only_files_that_are_served() -> None:
    """app.js imports its siblings by relative path: each must be one of the served files."""
    for path in ui.SOURCE.glob("*.js"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("import ") and " from " in line:
                target = line.rsplit(" from ", 1)[1].strip(' ";\'')
                assert target.startswith("./") and target[2:] in ui.OWN, (path.name, target)


def test_the_api_reference_is_public_with_relative_urls_and_no_inline_style(web: Web) -> None:
    """/docs like /openapi.json: no token. Its URLs are relative (a proxy may serve the desk under a path
    prefix), each names a served file, and its policy is the desk's without 'unsafe-inline'."""
    status, content_type, data, headers = fetch(web, "/docs")
    assert status == 200 and content_type.startswith("text/html")
    page = data.decode()
    references = re.findall(r'(?:src|href)="([^"#]+)"', page)
    assert references and not [reference for reference in references if reference.startswith("/")]
    for reference in references:
        if reference.startswith(("ui/", "vendor/")):
            kind, name = reference.split("/", 1)
            assert name in (ui.OWN if kind == "ui" else ui.DOCS_VENDOR), reference
        else:
            assert reference in ("./", "openapi.json", "asyncapi.json"), reference
            assert fetch(web, "/" + reference.lstrip("./"))[0] == 200, reference
    assert {f"vendor/{name}" for name in ui.DOCS_VENDOR} <= set(references)
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "unsafe" not in policy


@pytest.mark.skipif(not LIBRARIES_INSTALLED, reason="ui/node_modules missing: `make test` runs tools/ensure_ui.sh")
def test_the_libraries_come_from_the_lockfile_install(web: Web) -> None:
    status, content_type, data, _ = fetch(web, "/vendor/lightweight-charts.js")
    assert status == 200 and content_type.startswith("text/javascript")
    assert b"createChart" in data
    assert fetch(web, "/vendor/socket.io.min.js")[0] == 200
    status, content_type, data, _ = fetch(web, "/vendor/swagger-ui-bundle.js")
    assert status == 200 and content_type.startswith("text/javascript") and b"SwaggerUIBundle" in data


@pytest.mark.parametrize("path", [
    "/ui/..%2Fpackage.json", "/ui/package.json", "/ui/%2e%2e", "/vendor/..%2F..%2Fviews%2Fui.py",
    "/vendor/codemirror", "/ui/index.htm", "/ui/", "/vendor/",
])  # fmt: skip
def test_names_outside_the_tables_are_not_found_in_the_envelope(web: Web, path: str) -> None:
    status, body = web.call("GET", path, token="")
    assert status == 404 and body["success"] is False


def test_a_missing_library_install_answers_503_with_the_fix(web: Web, monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:  # fmt: skip
    monkeypatch.setattr(ui, "MODULES", tmp_path / "node_modules")
    status, body = web.call("GET", "/vendor/socket.io.min.js", token="")
    assert status == 503 and "make run" in body["msg"]
