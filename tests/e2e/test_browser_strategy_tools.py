"""Issue 17 item 10 in the browser: upload a .py, download it, start with params, see an error's line.

Debian's Chromium under Playwright against a real server on the sim, as in test_browser_desk.py
(whose browser settings it shares). Screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Desk, ServerFactory
from tests.e2e.test_browser_desk import ARTIFACTS, expect, logged_in_tab
from tests.e2e.test_browser_desk import pytestmark as browser_marks

pytestmark = browser_marks

UPLOADED = '''from backend.strategy import Strategy


class Quiet(Strategy):
    """Says its params and never trades."""

    params = {"every": 20, "product": "rb"}

    def on_init(self):
        self.info("params " + str(sorted(self.params.items())))


ext = Quiet("uploaded_quiet")
'''

FAILING = '''from backend.strategy import Strategy


class Failing(Strategy):
    def on_init(self):
        self.subscribe(self.nearest("rb", "SHFE"))

    def on_tick(self, tick):
        self.info(str(1 / 0))


ext = Failing("failing")
'''
FAILING_LINE = 9


@pytest.fixture(scope="module")
def server_desk(server_factory: ServerFactory) -> Desk:
    return Desk(server_factory(SIM_TICK_RATE=4))


@pytest.fixture(scope="module")
def page(server_desk: Desk) -> Iterator[Any]:
    """A logged-in desk on its Strategies page; errors in the page fail the test."""
    with logged_in_tab(server_desk, accept_downloads=True) as tab:
        tab.get_by_test_id("nav-strategies").click()
        yield tab


def row(page: Any, name: str) -> Any:
    return page.locator(f'#strategy-table tbody tr[data-name="{name}"]')


def test_upload_a_py_file_then_download_it(page: Any, tmp_path: Path) -> None:
    source = tmp_path / "whatever_the_file_is_called.py"
    source.write_text(UPLOADED, encoding="utf-8")
    page.get_by_test_id("code-file").set_input_files(str(source))
    expect(row(page, "uploaded_quiet")).to_have_attribute("data-status", "stopped")  # named by its ext
    expect(page.get_by_test_id("code-message")).to_contain_text("uploaded_quiet")
    with page.expect_download() as caught:
        row(page, "uploaded_quiet").get_by_test_id("strategy-download").click()
    download = caught.value
    assert download.suggested_filename == "uploaded_quiet.py"
    assert Path(download.path()).read_text(encoding="utf-8") == UPLOADED


def test_start_with_params_from_the_form(page: Any, server_desk: Desk) -> None:
    row(page, "uploaded_quiet").get_by_test_id("strategy-start").click()
    every = page.get_by_test_id("params-dialog").locator('[data-param="every"]')
    expect(every).to_have_value("20")  # prefilled with the current params (test_browser_params.py: the form)
    every.fill("7")
    page.get_by_test_id("params-start").click()
    expect(row(page, "uploaded_quiet")).to_have_attribute("data-status", "running")
    listing = server_desk.api.get("/strategy").json()["data"]
    assert next(s for s in listing if s["name"] == "uploaded_quiet")["params"] == {"every": 7, "product": "rb"}
    page.screenshot(path=str(ARTIFACTS / "strategy-params.png"))
    row(page, "uploaded_quiet").get_by_test_id("strategy-stop").click()
    expect(row(page, "uploaded_quiet")).to_have_attribute("data-status", "stopped")


def test_a_runtime_error_shows_the_line_of_the_users_file(page: Any, server_desk: Desk) -> None:
    assert server_desk.api.post("/code", json={"text": FAILING}).status_code == 200
    page.get_by_test_id("nav-strategies").click()
    expect(row(page, "failing")).to_have_attribute("data-status", "stopped")
    row(page, "failing").get_by_test_id("strategy-start").click()  # no params: no form
    expect(row(page, "failing")).to_have_attribute("data-status", "error")
    said = f"ZeroDivisionError: division by zero (line {FAILING_LINE}, in on_tick)"
    expect(row(page, "failing")).to_contain_text(said)
    page.screenshot(path=str(ARTIFACTS / "strategy-error.png"))
