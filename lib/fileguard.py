"""The file-access half of the audit hooks that police user code, in one place for both of its users.

Both the `/run_code` sandbox's child interpreter (lib/sandbox.py) and every strategy worker
(backend/strategy_runtime/worker.py) run code written by the desk's operators. A slip in that code
(`shutil.rmtree("data")`, an absolute path copied from the server's configuration) must not reach the
server's files: its data directory (the store, the JWT secret, the sim's journal) or config.yaml.
`install` adds an audit hook (sys.addaudithook) that refuses, with PermissionError and before the
call happens:

- writing, creating, changing (chmod, chown, utime, truncate, xattrs, rename, links) or deleting
  anything outside the `writable` directories;
- reading, listing or entering (chdir) anything under `hidden`, except inside `writable`; and, when
  `readable` is given, anything outside it and `writable`;
- opening a directory, even an allowed one: the `open` audit event does not say which `dir_fd` a
  relative path is relative to, so a directory descriptor would let `os.open("../x", dir_fd=fd)`
  reach past these checks. For the same reason the changing calls may not pass `dir_fd`, and
  shutil.rmtree is switched to its path-based walk (its descriptor-based one needs both);
- sqlite3.connect to a database outside `writable`: sqlite3 opens its files in C, with no `open`
  event (an ATTACH in SQL is not seen at all).

Every path is resolved (os.path.realpath: symlinks and `..`) before it is compared, so a symlink
left in the writable directory that points out of it leads nowhere.

This module is self-contained on purpose (the standard library only, nothing else imported): the
sandbox's child runs under `python -I`, with neither the checkout nor site-packages on its path, and
loads this file by its path before anything else. Like the hooks that use it, it is a seat belt
against accidents, not a security boundary: the hook lives in the same interpreter as the code it
polices, checks a path a moment before the call uses it (another thread could swap a symlink in
between), and calls with no audit event (os.mknod, os.mkfifo, C extensions) pass unseen.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Iterable

Hook = Callable[[str, tuple], None]

# event -> (indexes of its path arguments, indexes of its dir_fd arguments)
CHANGES: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "os.remove": ((0,), (1,)), "os.rmdir": ((0,), (1,)), "os.rename": ((0, 1), (2, 3)), "os.link": ((0, 1), (2, 3)),
    "os.symlink": ((1,), (2,)), "os.truncate": ((0,), ()), "os.chmod": ((0,), (2,)), "os.chown": ((0,), (3,)),
    "os.mkdir": ((0,), (2,)), "os.utime": ((0,), (3,)), "shutil.rmtree": ((0,), (1,)), "os.setxattr": ((0,), ()),
    "os.removexattr": ((0,), ()), "os.chflags": ((0,), ()),
}  # fmt: skip
NAMING = frozenset(("os.remove", "os.rmdir", "os.rename", "os.symlink", "os.mkdir"))  # act on a name, not its target
LISTINGS = frozenset(("os.listdir", "os.scandir", "glob.glob", "os.chdir"))
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
ALWAYS_WRITABLE = frozenset((os.devnull,))  # opened for writing only: deleting it is a change, refused
SQLITE_MEMORY = ("", ":memory:")


def install(label: str, writable: Iterable[str], readable: Iterable[str] | None = None,
            hidden: Iterable[str] = ()) -> None:  # fmt: skip
    """Police this interpreter's file accesses from now on; `label` starts every refusal's message."""
    _path_based_rmtree()
    sys.addaudithook(_hook(label, Rules(writable, readable, hidden)))


def _hook(label: str, rules: Rules) -> Hook:
    """The audit hook: it turns a reason to refuse into the PermissionError the policed code sees."""

    def hook(event: str, args: tuple) -> None:
        refusal = rules.check(event, args)
        if refusal:
            raise PermissionError(f"{label}: {refusal}")

    return hook


class Rules:
    """Which paths may be read and which written; `check` gives the reason an event is refused, or ''."""

    def __init__(self, writable: Iterable[str], readable: Iterable[str] | None, hidden: Iterable[str]) -> None:
        self.writable = _roots(writable)
        self.readable = None if readable is None else _roots(readable) + self.writable
        self.hidden = _roots(hidden)

    def check(self, event: str, args: tuple) -> str:
        if event == "open":
            return self._open(*args[:3])
        if event in LISTINGS:
            path = args[0] if args else None
            return "" if isinstance(path, int) or self.can_read(path) else f"may not list {path!r}"
        if event in CHANGES:
            return self._change(event, args, *CHANGES[event])
        if event == "sqlite3.connect":
            return self._database(args[0])
        return ""

    def can_read(self, path: object) -> bool:
        where = _resolve(path)
        if _inside(where, self.writable):
            return True
        return not _inside(where, self.hidden) and (self.readable is None or _inside(where, self.readable))

    def can_write(self, path: object) -> bool:
        return _inside(_resolve(path), self.writable)

    def _open(self, path: object, mode: str | None, flags: int) -> str:
        if isinstance(path, int):
            return ""  # an already open descriptor: what it may do was decided when it was opened
        writes = bool(mode and (mode[0] in "wax" or "+" in mode)) or (flags > 0 and bool(flags & WRITE_FLAGS))
        if writes and not (self.can_write(path) or _resolve(path) in ALWAYS_WRITABLE):
            return f"may not open {path!r} for writing"
        if not writes and not self.can_read(path):
            return f"may not open {path!r}"
        if _is_dir(path):
            return f"may not open the directory {path!r} (list it instead)"
        return ""

    def _change(self, event: str, args: tuple, paths: tuple[int, ...], fds: tuple[int, ...]) -> str:
        if any(index < len(args) and args[index] not in (None, -1) for index in fds):
            return f"{event} with dir_fd is not allowed"
        naming = event in NAMING
        for index in paths:
            if index < len(args) and not self._may_change(args[index], naming):
                return f"{event} outside its own directory is not allowed: {args[index]!r}"
        return ""

    def _may_change(self, path: object, naming: bool) -> bool:
        if isinstance(path, int):  # os.fchmod and friends: the descriptor's file must be ours too
            path = _descriptor_path(path)
        if path is None:
            return False
        return _inside(_resolve_name(path) if naming else _resolve(path), self.writable)

    def _database(self, name: object) -> str:
        text = os.fsdecode(name)  # type: ignore[arg-type]
        if text in SQLITE_MEMORY:
            return ""
        if text.startswith("file:"):  # with uri=True, which the event does not show, it could name any file
            return "SQLite URIs are not allowed: give a path"
        return "" if self.can_write(text) else f"may not open the database {name!r}"


def _roots(paths: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(os.path.realpath(os.fsdecode(path)) for path in paths))


def _resolve(path: object) -> str:
    """The absolute path with symlinks and `..` resolved; None (the call's default) is the current directory."""
    return os.path.realpath(os.fsdecode(os.curdir if path is None else path))  # type: ignore[arg-type]


def _resolve_name(path: object) -> str:
    """Like _resolve, but a last component that is a symlink stays itself: removing or renaming a link
    in the writable directory touches only the link, wherever it points."""
    head, tail = os.path.split(os.fsdecode(path))  # type: ignore[arg-type]
    if tail in ("", os.curdir, os.pardir):
        return _resolve(path)
    return os.path.join(os.path.realpath(head or os.curdir), tail)


def _inside(where: str, roots: tuple[str, ...]) -> bool:
    return any(where == root or where.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def _is_dir(path: object) -> bool:
    try:
        return stat.S_ISDIR(os.stat(_resolve(path)).st_mode)
    except (OSError, ValueError):
        return False


def _descriptor_path(fd: int) -> str | None:
    """Where an open descriptor points (Linux's /proc); None for a pipe, a socket or an unknown one."""
    try:
        where = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None
    return where if where.startswith(os.sep) else None


def _path_based_rmtree() -> None:
    """shutil.rmtree walks with directory descriptors and dir_fd when it can; both are refused here.

    Its path-based walk does the same work with calls that carry whole paths, which the hook can
    check. (3.11 and 3.12 choose by _use_fd_functions on every call, 3.13 once, into _rmtree_impl.)
    """
    import shutil

    shutil._use_fd_functions = False  # type: ignore[attr-defined]
    if hasattr(shutil, "_rmtree_impl"):
        shutil._rmtree_impl = shutil._rmtree_unsafe  # type: ignore[attr-defined]
