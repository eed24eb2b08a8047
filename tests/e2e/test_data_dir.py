"""The data directory after a real day's use: private to the server's user, and no secret in clear.

It holds the store, the JWT secret, the saved counter login, the sim's journal and the strategies'
working directories. A host's other users must not read any of it (directories 0700, files 0600),
and a copy of it (a backup, a disk sent for repair) must not give away the access code or a counter
password: those are kept hashed, or encrypted with the secret.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tests.e2e.conftest import ACCESS_CODE, Desk, ServerFactory, wait_until

SIM_USERID = "perm_user"
SIM_PASSWORD = "sim-Pw-7d1c"  # what the sim's counter must never write down as it is
ROOT = Path(__file__).resolve().parents[2]


def _data_of(response) -> object:  # type: ignore[no-untyped-def]
    body = response.json()
    assert response.status_code == 200 and body["success"] is True, body
    return body["data"]


def _use_for_a_while(desk: Desk) -> None:
    """Log in, trade, run a strategy: every kind of file the server writes gets written."""
    api = desk.session(desk.login(SIM_USERID, SIM_PASSWORD))
    contract = next(item for item in _data_of(api.get("/contract", params={"exchange": "DCE"})))
    _data_of(api.post("/order_solve", json={"local_symbol": contract["local_symbol"], "direction": "long",
                                            "offset": "open", "type": "market", "volume": 1}))  # fmt: skip
    code = (ROOT / "strategies" / "double_ma.py").read_text(encoding="utf-8")
    _data_of(api.post("/code", json={"name": "perm_check", "text": code}))
    _data_of(api.put("/strategy", json={"name": "perm_check", "operation": "start"}))
    wait_until("perm_check running and the fill recorded", lambda: _data_of(api.get("/order_solve"))["trade_list"]
               and any(s["name"] == "perm_check" and s["status"] == "running" for s in _data_of(api.get("/strategy"))))
    _data_of(api.put("/strategy", json={"name": "perm_check", "operation": "stop"}))


def _loose(path: Path) -> str | None:
    mode = stat.S_IMODE(path.lstat().st_mode)
    if path.is_symlink():
        return None
    wanted = 0o700 if path.is_dir() else 0o600
    return f"{path}: {oct(mode)}" if mode & 0o077 else (None if mode & wanted == wanted else f"{path}: {oct(mode)}")


def test_the_data_directory_is_private_and_keeps_no_secret_in_clear(server_factory: ServerFactory) -> None:
    server = server_factory(SIM_USERID=SIM_USERID, SIM_PASSWORD=SIM_PASSWORD)
    _use_for_a_while(Desk(server))
    assert server.stop() == 0, server.log_tail()  # a clean stop compacts the sim's journal into its snapshot

    everything = [server.data_dir, *server.data_dir.rglob("*")]
    assert len(everything) > 5, everything
    loose = [problem for path in everything if (problem := _loose(path))]
    assert not loose, f"readable by others, or not the owner's: {loose}"

    secrets = {"sim password": SIM_PASSWORD.encode(), "access code": ACCESS_CODE.encode()}
    found = []
    for path in everything:
        if path.is_file() and not path.is_symlink():
            content = path.read_bytes()
            found += [f"{name} in {path.relative_to(server.data_dir)}" for name, secret in secrets.items()
                      if secret in content]  # fmt: skip
    assert not found, found
    assert os.stat(server.data_dir).st_uid == os.getuid()


def test_an_older_looser_data_directory_is_tightened_at_start(tmp_path: Path) -> None:
    from backend.app import _private_data_dir

    data_dir = tmp_path / "data"
    (data_dir / "flow" / "sim").mkdir(parents=True, mode=0o755)
    (data_dir / "flow").chmod(0o755)
    data_dir.chmod(0o755)
    for name in ("ctpdesk.sqlite3", "flow/sim/td_Private.con"):
        (data_dir / name).write_text("x", encoding="utf-8")
        (data_dir / name).chmod(0o644)
    _private_data_dir(data_dir)
    loose = [problem for path in (data_dir, *data_dir.rglob("*")) if (problem := _loose(path))]
    assert not loose, loose
