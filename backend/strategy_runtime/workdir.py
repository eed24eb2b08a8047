"""Where a strategy worker runs: a directory of its own under the data directory, never the checkout.

Workers used to run in the checkout, beside the default data directory `./data`: a strategy that
kept a cache in `data/` and removed it with `shutil.rmtree("data")` removed the server's store, JWT
secret and sim journal with it (issue 13). Now each strategy has `<DATA_DIR>/strategies/<name>/`,
kept between runs (and after the strategy is deleted), as its working directory, HOME and (in `tmp/`)
TMPDIR. The worker's file guard (lib/fileguard.py) lets it write only there and keeps it out of the
rest of the data directory and config.yaml; `hidden_paths` names those for it.
"""

from __future__ import annotations

import os
from pathlib import Path

STRATEGIES = "strategies"  # under the data directory: one directory per strategy name
TMP = "tmp"  # under a strategy's directory: its TMPDIR
HIDDEN_ENV = "CTPDESK_WORKER_HIDDEN"  # os.pathsep-separated paths the worker may not touch at all


def strategy_home(data_dir: Path, name: str) -> Path:
    """`<data_dir>/strategies/<name>/` and its `tmp/`, made (0700) if missing; the name is one path component."""
    if not name.isidentifier():  # validate_name checked it already; this still keeps '/', '.' and '..' out
        raise ValueError(f"not a strategy name: {name!r}")
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # the server made it already; a bare manager may not
    home = _private_dir(_private_dir(data_dir / STRATEGIES) / name)
    _private_dir(home / TMP)
    return home


def worker_environment(home: Path, data_dir: Path, checkout: Path) -> dict[str, str]:
    """The variables that put a worker in its directory and tell its file guard what to keep away from.

    PYTHONSAFEPATH keeps the working directory off sys.path and PYTHONNOUSERSITE ignores HOME's
    site-packages: otherwise a file the strategy left in its directory (a `select.py`, a `.pth`)
    would run in its next worker before the guard is in place.
    """
    return {
        "HOME": str(home),
        "TMPDIR": str(home / TMP),
        HIDDEN_ENV: os.pathsep.join(map(str, hidden_paths(data_dir, checkout))),
        "PYTHONSAFEPATH": "1",
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",  # the checkout is not the worker's to write: no __pycache__ there
    }


def hidden_paths(data_dir: Path, checkout: Path) -> list[Path]:
    """What a worker may not read: the server's data directory (its own directory apart), its configuration
    files, and the /proc entries of the server and of its parent (uWSGI's master, or the shell that started
    run.py), whose `environ` holds the access code and MONGO_URI the worker's own environment leaves out."""
    configs = {checkout / "config.yaml", Path.cwd() / "config.yaml"}  # run.py's default is relative to its cwd
    processes = [Path(f"/proc/{pid}") for pid in sorted({os.getpid(), os.getppid()})]
    return [data_dir.resolve(), *sorted(path.resolve() for path in configs), *processes]


def _private_dir(path: Path) -> Path:
    """A directory only the server's user may enter, made or tightened without following a symlink.

    A strategy may delete its own directory and leave a symlink (or a file) in its place: that is
    replaced, never followed, so the next worker cannot be started in (or chmod reach) another place.
    """
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_NONBLOCK
    try:
        fd = os.open(path, flags)
    except OSError:  # ELOOP (a symlink) or ENOTDIR (a file): not a directory of ours
        os.unlink(path)
        os.mkdir(path, 0o700)
        fd = os.open(path, flags)
    try:
        os.fchmod(fd, 0o700)
    finally:
        os.close(fd)
    return path
