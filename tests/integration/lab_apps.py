"""An in-process app with the lab's calls (LabApp, a test_web_api.Web), for the lab's REST tests; `apps` in
conftest.py makes them per test."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.integration.test_web_api import Web, make_web

SYMBOL = "rb2605.SHFE"
WAIT = 60.0  # seconds a run may take here (a child process on a loaded 2-core machine)


@dataclass
class LabApp(Web):
    """A Web (test_web_api.py) with a token of its own from the start and the lab's calls."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.token = self.mint()  # the lab needs no counter session; log_in gets one

    @property
    def lab(self) -> Any:
        return self.desk.lab

    def upload(self, text: str) -> None:
        self.ok("POST", "/code", json={"text": text})

    def import_bars(self, text: str) -> None:
        self.ok("POST", "/bar/import", json={"local_symbol": SYMBOL, "interval": "1m", "csv": text})

    def start(self, strategy: str, **fields: Any) -> str:
        return self.ok("POST", "/backtest", json={"strategy": strategy, "local_symbol": SYMBOL, **fields})["id"]

    def finished(self, run_id: str) -> dict[str, Any]:
        assert self.lab.wait(run_id, WAIT), f"run {run_id} still {self.lab.status(run_id)} after {WAIT} s"
        return self.ok("GET", "/backtest", query_string={"id": run_id})


def make_lab(data_dir: Path, **settings: Any) -> LabApp:
    made = make_web(data_dir, kind=LabApp, **settings)
    assert isinstance(made, LabApp)
    return made
