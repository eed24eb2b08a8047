"""Every runnable example of docs/ runs against a server started as `make run` starts it.

An example is a ```sh block directly after an `<!-- example -->` line (the convention is in
docs/index.md). The server is `python run.py` with its embedded defaults (the sim, SQLite, a generated
access code printed once) in a temporary working directory, on a free port; the examples get what the
docs tell a reader to set: $DESK (the printed address), $CODE (the printed access code) and $TOKEN
(from the documented login). Each runs with `sh -e` from the checkout's root and must exit 0 with its
output holding `"success": true` and no `"success": false`, or, when the marker says
`<!-- example expect: TEXT -->`, holding TEXT.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import free_port, pause, wait_healthy

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
START_WITHIN = 30.0  # seconds for `run.py` to print its address and access code and answer /health
EXAMPLE_WITHIN = 20.0  # seconds one example may take
_MARKER = re.compile(r"^<!--\s*example(?:\s+expect:\s*(?P<expect>.*?))?\s*-->\s*\n```sh\n(?P<code>.*?)^```",
                     re.M | re.S)  # fmt: skip
_SUCCESS = re.compile(r'"success":\s*true')
_FAILURE = re.compile(r'"success":\s*false')


@dataclass(frozen=True)
class Example:
    page: str
    line: int
    code: str
    expect: str | None

    @property
    def name(self) -> str:
        return f"{self.page}:{self.line}"


def examples() -> list[Example]:
    found = []
    for page in sorted(DOCS.glob("*.md")):
        text = page.read_text(encoding="utf-8")
        for match in _MARKER.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append(Example(page.name, line, match.group("code"), match.group("expect")))
    return found


@dataclass
class MadeRun:
    """`python run.py` as `make run` runs it, with what it printed."""

    process: subprocess.Popen[bytes]
    desk: str
    code: str


def _read_banner(process: subprocess.Popen[bytes], log: Path) -> tuple[str, str]:
    """The address and the access code from run.py's first lines (it prints them before serving)."""
    for _ in range(int(START_WITHIN / 0.05)):
        text = log.read_text(encoding="utf-8", errors="replace")
        desk = re.search(r"serving on (http://\S+?)/?\s", text)
        code = re.search(r"access code \(generated, shown only this once\): (\S+)", text)
        if desk and code:
            return desk.group(1), code.group(1)
        if process.poll() is not None:
            pytest.fail(f"run.py exited ({process.returncode}) before printing its address and access code:\n{text}")
        pause(0.05)
    pytest.fail(f"run.py printed no address and access code within {START_WITHIN:g}s")


@pytest.fixture(scope="module")
def made_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MadeRun]:
    workdir = tmp_path_factory.mktemp("make-run")  # its ./data and (absent) ./config.yaml
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTPDESK_") and k != "MONGO_URI"}
    env.update(PYTHONUNBUFFERED="1", CTPDESK_PORT=str(free_port()))  # the one change: 5000 may be taken
    log = workdir / "run.log"
    with open(log, "wb") as output:
        process = subprocess.Popen([sys.executable, str(ROOT / "run.py")], cwd=workdir, env=env, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        desk, code = _read_banner(process, log)
        problem = wait_healthy(desk, process, START_WITHIN)
        if problem:
            pytest.fail(f"{desk}: {problem}")
        yield MadeRun(process, desk, code)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def _login(run: MadeRun) -> str:
    """$TOKEN as the documented login example makes it (docs/api.md, "Trying it")."""
    answer = requests.post(f"{run.desk}/login", data={"authorization": run.code, "userid": "demo", "password": "demo"},
                           timeout=30).json()  # fmt: skip
    assert answer["success"] is True, answer
    return str(answer["data"])


def run_example(example: Example, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-e", "-c", example.code], cwd=ROOT, env=environment, text=True,
                          capture_output=True, timeout=EXAMPLE_WITHIN)  # fmt: skip


def test_the_docs_have_runnable_examples() -> None:
    found = {example.page for example in examples()}
    assert {"api.md", "strategies.md", "strategies.zh-CN.md"} <= found, found


def test_every_example_runs_against_make_runs_defaults(made_run: MadeRun) -> None:
    environment = {**os.environ, "DESK": made_run.desk, "CODE": made_run.code, "TOKEN": _login(made_run)}
    failures = []
    for example in examples():
        result = run_example(example, environment)
        output = result.stdout + result.stderr
        if result.returncode != 0:
            why = f"exit {result.returncode}"
        elif example.expect is not None:
            why = "" if example.expect in output else f"no {example.expect!r} in the output"
        elif not _SUCCESS.search(output) or _FAILURE.search(output):
            why = 'the output is not all `"success": true`'
        else:
            why = ""
        if why:
            failures.append(f"{example.name}: {why}\n$ {example.code}\n{output[-2000:]}")
    assert not failures, "\n\n".join(failures)
    assert json.loads(requests.get(f"{made_run.desk}/health", timeout=5).text)["success"] is True
