"""Issue 17 item 2 in the browser: floating P&L is live, and the top bar agrees with the position row.

Before, the account's position_profit moved only when the counter's account was queried again
(REFRESH_INTERVAL): with one lot of i it sat at 150.00 for 9 s while the true figure ranged 100–250, and
the top bar and the position row disagreed. Here REFRESH_INTERVAL is 60 s, so every move seen in the
window comes from the engine marking the position on each tick.

Debian's Chromium under Playwright against a real server on the sim, as in test_browser_desk.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Desk, ServerFactory, pause
from tests.e2e.test_browser_desk import ARTIFACTS, expect, logged_in_tab
from tests.e2e.test_browser_desk import pytestmark as browser_marks

pytestmark = browser_marks
WINDOW = 10.0  # seconds of sampling: far less than REFRESH_INTERVAL

# The top bar's figure and the position row's P&L cell, read in one JS task (the same drawn state).
READ = """(symbol) => {
    const number = (text) => Number(text.replace(/[^0-9.\\-]/g, ""));
    const figure = document.querySelector('#account [data-field="position_profit"]');
    const row = document.querySelector(`#positions tbody tr[data-symbol="${symbol}"]`);
    if (!figure || !row) return null;
    const top = figure.cloneNode(true);
    top.querySelector("small")?.remove();
    return {top: number(top.textContent), row: number(row.children[7].textContent)};
}"""


def _data(response: Any) -> Any:
    body = response.json()
    assert response.status_code == 200 and body["success"], body
    return body["data"]


@pytest.fixture(scope="module")
def server_desk(server_factory: ServerFactory) -> Desk:
    return Desk(server_factory(SIM_TICK_RATE=4, TICK_PUSH_INTERVAL=0.1, REFRESH_INTERVAL=60))


@pytest.fixture(scope="module")
def page(server_desk: Desk) -> Iterator[Any]:
    with logged_in_tab(server_desk) as tab:
        yield tab


def test_floating_pnl_moves_with_the_ticks_and_the_top_bar_agrees_with_the_row(page: Any, server_desk: Desk):
    api = server_desk.api
    # the main contract: the sim's delivery month (i2612 in December) may not trade for seconds
    symbol = _data(api.get("/contract", params={"main": 1, "product": "i"}))[0]["local_symbol"]
    _data(api.post("/market", json={"symbol": symbol}))
    _data(api.post("/order_solve", json={"local_symbol": symbol, "direction": "long", "offset": "open",
                                          "type": "market", "volume": 1}))  # fmt: skip
    expect(page.locator(f'#positions tbody tr[data-symbol="{symbol}"]')).to_be_visible()
    samples: list[dict[str, float]] = []
    deadline = time.monotonic() + WINDOW
    while time.monotonic() < deadline:
        sample = page.evaluate(READ, symbol)
        if sample is not None:
            samples.append(sample)
        pause(0.25)
    page.screenshot(path=str(ARTIFACTS / "pnl-live.png"))
    assert len(samples) > WINDOW, samples
    # The position and the account are two messages, drawn as each arrives: a sample may fall between them,
    # and a stall of the machine may hold the second for a while, never for four samples in a row (0.75 s):
    # a top bar that follows the account refreshes (60 s apart) would disagree for the whole window.
    apart = [abs(sample["top"] - sample["row"]) > 0.005 for sample in samples]
    lasting = [samples[i] for i in range(3, len(samples)) if all(apart[i - 3 : i + 1])]
    assert not lasting, f"the top bar and the position row disagree: {lasting[:5]} in {samples}"
    values = len({sample["top"] for sample in samples})  # any change is a mark: no refresh comes in the window
    assert values >= 2, f"floating P&L took {values} value in {WINDOW:g} s with refreshes 60 s apart: {samples[:10]}"
