"""Strategies and files (issue 13): a worker runs in its own directory and cannot reach the server's.

Real worker processes on the sim, through the API. The strategies embed the absolute paths they must
not reach (the test knows them; a strategy that read its settings from somewhere could too).
"""

from __future__ import annotations

import itertools
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from auth.tokens import SECRET_FILE
from backend import sim
from backend.app import create_app, shutdown
from backend.strategy_runtime.manager import ROOT
from lib.config import load_settings
from model import SQLITE_FILE
from tests.integration.test_strategies import ACCESS, Desk, code, make_desk

_names = itertools.count()


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    """A desk whose data directory is `tmp_path/data`, so that the test has a place outside it."""
    yield from make_desk(tmp_path / "data")


def data_dir(desk: Desk) -> Path:
    return Path(desk.app.extensions["ctpdesk"].settings.DATA_DIR).resolve()


def home(desk: Desk, name: str) -> Path:
    return data_dir(desk) / "strategies" / name


def upload_and_start(desk: Desk, name: str, body: str) -> None:
    assert desk.call("post", "/code", text=code(name, desk.contract("m", "DCE"), body)).status_code == 200
    assert desk.call("put", "/strategy", name=name, operation="start").json["data"]["status"] == "running"


def messages(desk: Desk, name: str) -> list[str]:
    return [record.message for record in desk.app.extensions["ctpdesk"].engine.logs if record.owner == name]


def wait_for_log(desk: Desk, name: str, last: str) -> list[str]:
    """The strategy's log lines once `last` is among them; its error if it stopped first."""
    desk.wait(lambda: last in messages(desk, name) or desk.state(name)["status"] == "error", what=f"log {last!r}")
    assert desk.state(name)["status"] == "running", desk.state(name)["error"]
    return messages(desk, name)


def server_files(desk: Desk) -> dict[str, int]:
    """The server's own files in its data directory (the strategies' directories apart), with their sizes."""
    root = data_dir(desk)
    found = {str(path.relative_to(root)): path.stat().st_size for path in root.rglob("*") if path.is_file()}
    return {name: size for name, size in found.items() if not name.startswith("strategies")}


REMOVER = """
    def on_init(self):
        import os
        os.makedirs("data", exist_ok=True)
        with open("data/cache.json", "w") as cache:
            cache.write("{}")
        self.info("cache written")

    def on_stop(self):
        import json, os, shutil
        outcomes = {}
        for target in ("data", @TARGETS@):
            try:
                (shutil.rmtree if os.path.isdir(target) or not os.path.exists(target) else os.remove)(target)
                outcomes[target] = "removed"
            except OSError as error:
                outcomes[target] = f"{type(error).__name__}: {error}"
        os.makedirs(os.path.dirname(@REPORT@), exist_ok=True)
        with open(@REPORT@, "w") as report:
            json.dump(outcomes, report)
"""


def test_a_strategy_removing_data_on_stop_reaches_nothing_of_the_servers(desk: Desk):
    root = data_dir(desk)
    secret = (root / SECRET_FILE).read_text()
    targets = [str(ROOT / "data"), str(root), str(root / SECRET_FILE), str(root / SQLITE_FILE)]
    report = home(desk, "remover") / "report.json"
    body = REMOVER.replace("@TARGETS@", ", ".join(map(repr, targets))).replace("@REPORT@", repr(str(report)))
    upload_and_start(desk, "remover", body)
    wait_for_log(desk, "remover", "cache written")
    assert (home(desk, "remover") / "data" / "cache.json").read_text() == "{}"  # its cache is in its own directory
    before = server_files(desk)
    assert any(name.startswith("sim-") for name in before), before  # the sim's journal is among them

    assert desk.call("put", "/strategy", name="remover", operation="stop").json["data"]["status"] == "stopped"

    outcomes = json.loads(report.read_text())
    assert outcomes.pop("data") == "removed" and not (home(desk, "remover") / "data").exists()  # its own: gone
    assert all(outcome.startswith("PermissionError: strategy: ") for outcome in outcomes.values()), outcomes
    assert set(before) <= set(server_files(desk)) and (root / SECRET_FILE).read_text() == secret
    # The server still works: the old token (the secret is the same), the store, a new login.
    assert desk.call("get", "/strategy").json["data"][0]["status"] == "stopped"
    login = desk.client.post("/login", json={"authorization": ACCESS, "userid": "demo", "password": "demo"})
    assert login.status_code == 200 and desk.app.extensions["ctpdesk"].engine.connected


READER = """
    def on_init(self):
        import os, sqlite3
        attempts = [("secret", lambda: open(@SECRET@).read()), ("config", lambda: open(@CONFIG@).read()),
                    ("listing", lambda: os.listdir(@DATA@)), ("store", lambda: sqlite3.connect(@STORE@)),
                    ("checkout", lambda: open(@DROPPED@, "w")), ("environ", lambda: open(@ENVIRON@).read()),
                    ("elsewhere", lambda: open(@ELSEWHERE@).read())]
        for what, attempt in attempts:
            try:
                self.info(f"{what}: read {attempt()!r}")
            except OSError as error:
                self.info(f"{what}: {type(error).__name__}: {error}")
        self.info("done")
"""


def test_a_strategy_cannot_read_the_servers_secret_config_store_or_environment(desk: Desk, tmp_path: Path):
    root = data_dir(desk)
    elsewhere = tmp_path / "market.csv"  # outside the data directory: reading is allowed
    elsewhere.write_text("rb,3100\n")
    dropped = ROOT / "dropped-by-a-strategy.txt"
    paths = {"SECRET": root / SECRET_FILE, "CONFIG": ROOT / "config.yaml", "DATA": root, "STORE": root / SQLITE_FILE,
             "DROPPED": dropped, "ENVIRON": f"/proc/{os.getpid()}/environ", "ELSEWHERE": elsewhere}  # fmt: skip
    body = READER
    for key, path in paths.items():
        body = body.replace(f"@{key}@", repr(str(path)))
    try:
        upload_and_start(desk, "reader", body)
        lines = wait_for_log(desk, "reader", "done")
    finally:
        dropped.unlink(missing_ok=True)
    outcome = {line.partition(": ")[0]: line.partition(": ")[2] for line in lines if ": " in line}
    for what in ("secret", "config", "listing", "store", "checkout", "environ"):
        assert outcome[what].startswith("PermissionError: strategy: "), (what, outcome[what])
    assert outcome["elsewhere"] == "read 'rb,3100\\n'"
    secret = (root / SECRET_FILE).read_text()
    assert not any(secret in line for line in lines)


KEEPER = """
    def on_init(self):
        import os, site, sys, tempfile
        if os.getcwd() == @CHECKOUT@:
            raise RuntimeError("the worker runs in the checkout")
        self.info(f"cwd={os.getcwd()} home={os.environ['HOME']} tmp={tempfile.gettempdir()}")
        self.info(f"user site={site.ENABLE_USER_SITE} safe path={sys.flags.safe_path}")
        if os.path.exists("notes.txt"):
            with open("notes.txt") as notes:
                self.info("found: " + notes.read())
        else:
            with open("notes.txt", "w") as notes:
                notes.write("hello from run 1")
            with open("select.py", "w") as shadow:  # would run before the guard if the cwd were on sys.path
                shadow.write("open(@MARKER@, 'w').close()\\n")
        self.info("done")
"""


def test_a_strategy_keeps_files_in_its_own_directory_across_a_stop_and_start(desk: Desk):
    own = home(desk, "keeper")
    marker = own.parent / "shadow-module-ran"
    body = KEEPER.replace("@CHECKOUT@", repr(str(ROOT))).replace("@MARKER@", repr(str(marker)))
    upload_and_start(desk, "keeper", body)
    first = wait_for_log(desk, "keeper", "done")
    assert f"cwd={own} home={own} tmp={own / 'tmp'}" in first
    assert "user site=False safe path=True" in first
    assert desk.call("put", "/strategy", name="keeper", operation="stop").json["data"]["status"] == "stopped"
    engine = desk.app.extensions["ctpdesk"].engine
    engine.logs.clear()

    assert desk.call("put", "/strategy", name="keeper", operation="start").json["data"]["status"] == "running"
    assert "found: hello from run 1" in wait_for_log(desk, "keeper", "done")
    assert not marker.exists()
    for directory in (data_dir(desk), own.parent, own, own / "tmp"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory


def test_the_data_directory_is_tightened_to_0700_and_its_secrets_to_0600(tmp_path: Path):
    root = tmp_path / "data"
    root.mkdir(mode=0o755)
    os.chmod(root, 0o755)  # as older versions left it
    (root / SECRET_FILE).write_text("an-older-secret")
    os.chmod(root / SECRET_FILE, 0o644)
    name = f"strategyfiles{next(_names)}"
    settings = load_settings(None, environ={}, DATA_DIR=str(root), ACCESS_CODE=ACCESS, SIM_NAME=name,
                             SIM_QUERY_RATE=0)  # fmt: skip
    app = create_app(settings)
    try:
        assert app.config["JWT_SECRET_KEY"] == "an-older-secret"
        assert stat.S_IMODE(root.stat().st_mode) == 0o700
        store = root / SQLITE_FILE
        files = [root / SECRET_FILE, store, *(store.with_name(store.name + end) for end in ("-wal", "-shm"))]
        assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in files if path.exists()), files
        assert store.exists()
    finally:
        shutdown(app)
        sim.shutdown(name)
