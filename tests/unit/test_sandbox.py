"""lib.sandbox: snippets run in a limited child interpreter; the host survives whatever they do."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lib import sandbox
from lib.sandbox import TRUNCATED, RunResult, SandboxBusy, run_snippet


def run(text: str, **limits: object) -> RunResult:
    result = run_snippet(text, **limits)  # type: ignore[arg-type]
    assert isinstance(result.duration_ms, int) and result.duration_ms >= 0
    return result


def test_prints_are_captured_with_stderr_in_order() -> None:
    result = run("import sys\nprint('one')\nprint('two', file=sys.stderr)\nprint('three')\n")
    assert result.output == "one\ntwo\nthree\n"
    assert (result.exit_code, result.timed_out) == (0, False)


def test_sys_exit_code_is_reported() -> None:
    result = run("import sys\nprint('bye')\nsys.exit(3)\n")
    assert (result.output, result.exit_code, result.timed_out) == ("bye\n", 3, False)


def test_exception_gives_its_traceback_and_exit_code_1() -> None:
    result = run("def divide():\n    return 1 / 0\n\n\ndivide()\n")
    assert result.exit_code == 1
    assert "ZeroDivisionError: division by zero" in result.output
    assert 'File "snippet.py", line 2, in divide' in result.output
    assert "Traceback (most recent call last)" in result.output


def test_syntax_error_names_the_line() -> None:
    result = run("x = 1\ny = (\n")
    assert result.exit_code == 1
    assert "SyntaxError" in result.output and 'File "snippet.py", line 2' in result.output


# The timeouts of the endless snippets: the clock runs from before the interpreter starts, so a loaded
# machine must still have it printing before the kill.
STARTS_WITHIN = 3.0


def test_infinite_loop_is_killed_at_the_timeout() -> None:
    result = run("while True:\n    pass\n", timeout=STARTS_WITHIN)
    assert result.timed_out is True
    assert result.exit_code < 0  # killed by a signal
    assert STARTS_WITHIN * 900 <= result.duration_ms < STARTS_WITHIN * 1000 + 5000  # not killed: never returns


def test_output_before_the_timeout_is_kept() -> None:
    result = run("print('started', flush=True)\nwhile True:\n    pass\n", timeout=STARTS_WITHIN)
    assert result.timed_out and result.output == "started\n"


def test_memory_hog_gets_memory_error_not_the_host() -> None:
    result = run("data = bytearray(2 * 1024 ** 3)\nprint('allocated')\n", memory_mb=256)
    assert result.exit_code != 0 and not result.timed_out
    assert "MemoryError" in result.output and "allocated" not in result.output


@pytest.mark.parametrize(
    ("snippet", "event"),
    [
        ("import os\nos.fork()\n", "os.fork"),
        ("import subprocess\nsubprocess.run(['ls'])\n", "subprocess.Popen"),
        ("import os\nos.system('ls')\n", "os.system"),
        ("import os\nos.execv('/bin/ls', ['ls'])\n", "os.exec"),
        ("import os\nos.posix_spawn('/bin/ls', ['ls'], {})\n", "os.posix_spawn"),
        ("import os\nos.kill(os.getppid(), 0)\n", "os.kill"),
        ("import ctypes\n", "ctypes.dlopen"),
        ("import resource\nresource.setrlimit(resource.RLIMIT_AS, (-1, -1))\n", "resource.setrlimit"),
        ("import socket\nsocket.socket().connect(('127.0.0.1', 9))\n", "socket."),
    ],
)
def test_processes_signals_ctypes_limits_and_sockets_are_refused(snippet: str, event: str) -> None:
    result = run(snippet)
    assert result.exit_code == 1
    assert "PermissionError: sandbox: " + event in result.output


def test_output_is_capped() -> None:
    result = run("while True:\n    print('x' * 1000)\n", max_output=10_000, timeout=5.0)
    assert result.output.endswith(TRUNCATED)
    assert len(result.output) == 10_000 + len(TRUNCATED)
    assert not result.timed_out  # stopped at the cap, long before the timeout
    assert result.exit_code < 0


def test_scratch_directory_is_the_cwd_and_is_removed_afterwards() -> None:
    result = run("import os\nopen('left.txt', 'w').write('behind')\nprint(os.getcwd())\n")
    scratch = Path(result.output.strip())
    assert scratch.name.startswith("ctpdesk-run-")
    assert not scratch.exists()


def test_scratch_directory_is_removed_after_a_timeout_too() -> None:
    result = run("import os\nprint(os.getcwd(), flush=True)\nwhile True:\n    pass\n", timeout=STARTS_WITHIN)
    assert result.timed_out
    assert not Path(result.output.strip()).exists()


def test_server_secrets_are_not_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CTPDESK_ACCESS_CODE", "secret-access-code")
    monkeypatch.setenv("MONGO_URI", "mongodb://user:secret@db/ctpdesk")
    monkeypatch.setenv("PYTHONPATH", os.getcwd())
    result = run("import os\nprint(sorted(os.environ))\n")
    assert result.output.strip() == "['LANG', 'PATH']"


def test_huge_file_hits_the_file_size_limit() -> None:
    result = run("with open('big.bin', 'wb') as out:\n    out.write(b'x' * (50 * 1024 * 1024))\n")
    assert result.exit_code == 1
    assert "File too large" in result.output


def test_files_outside_the_scratch_directory_are_out_of_reach(tmp_path: Path) -> None:
    secret = tmp_path / "config.yaml"
    secret.write_text("ACCESS_CODE: secret\n")
    reading = run(f"print(open({str(secret)!r}).read())\n")
    assert "PermissionError: sandbox: may not open" in reading.output
    assert "ACCESS_CODE: secret" not in reading.output
    writing = run(f"open({str(tmp_path / 'dropped')!r}, 'w')\n")
    assert "for writing" in writing.output and not (tmp_path / "dropped").exists()
    deleting = run(f"import os\nos.remove({str(secret)!r})\n")
    assert "PermissionError" in deleting.output and secret.exists()


def test_standard_library_imports_still_work() -> None:
    result = run(
        "import json, datetime, decimal, statistics, tempfile, zoneinfo\n"
        "print(json.dumps({'a': statistics.mean([1, 2, 3])}))\n"
        "print(zoneinfo.ZoneInfo('Asia/Shanghai'))\n"
        "print(tempfile.mkdtemp().startswith(__import__('os').getcwd()))\n"
    )
    assert result.output == '{"a": 2}\nAsia/Shanghai\nTrue\n'
    assert result.exit_code == 0


def test_busy_when_every_slot_stays_taken() -> None:
    taken = 0
    while sandbox._slots.acquire(blocking=False):
        taken += 1
    try:
        assert taken == sandbox.MAX_CONCURRENT
        with pytest.raises(SandboxBusy, match="busy"):
            run_snippet("print(1)\n", wait=0.05)
    finally:
        for _ in range(taken):
            sandbox._slots.release()
    assert run_snippet("print(1)\n", wait=0).output == "1\n"


def test_library_modules_are_importable_beside_the_snippet() -> None:
    library = {"pkg/__init__.py": "", "pkg/helper.py": "ANSWER = 42\n"}
    result = run_snippet("from pkg.helper import ANSWER\nprint(ANSWER)\n", library=library)
    assert (result.exit_code, result.output) == (0, "42\n")


@pytest.mark.parametrize("path", ["../escape.py", "/tmp/abs.py", "pkg/../../x.py", "pkg/data.txt"])
def test_library_paths_must_be_relative_module_files(path: str) -> None:
    with pytest.raises(ValueError, match="relative module files"):
        run_snippet("print(1)\n", library={path: "X = 1\n"})


def test_a_directory_descriptor_cannot_carry_a_relative_path_past_the_checks(tmp_path: Path) -> None:
    # The `open` event does not show dir_fd: from a descriptor of scratch/a/b, "../../<stdlib path>" is
    # checked as the standard library's file but opens scratch/<stdlib path>, a symlink to the secret.
    secret = tmp_path / "config.yaml"
    secret.write_text("ACCESS_CODE: secret\n")
    result = run(
        "import os, sysconfig\n"
        "depth = len(os.getcwd().strip('/').split('/'))\n"
        "os.makedirs('/'.join(['d'] * depth))\n"
        "decoy = os.path.join(os.path.realpath(sysconfig.get_paths()['stdlib']), 'os.py').lstrip('/')\n"
        "os.makedirs(os.path.dirname(decoy))\n"
        f"os.symlink({str(secret)!r}, decoy)\n"
        "fd = os.open('/'.join(['d'] * depth), os.O_RDONLY)\n"
        "print(os.read(os.open('../' * depth + decoy, os.O_RDONLY, dir_fd=fd), 100))\n"
    )
    assert "PermissionError: sandbox: may not open the directory" in result.output
    assert "ACCESS_CODE" not in result.output


def test_rmtree_works_in_the_scratch_directory_and_leaves_what_its_links_point_to(tmp_path: Path) -> None:
    outside = tmp_path / "kept.txt"
    outside.write_text("kept")
    result = run(
        "import os, shutil\n"
        "os.makedirs('cache/a/b')\n"
        "open('cache/a/b/f', 'w').write('x')\n"
        f"os.symlink({str(outside)!r}, 'cache/link')\n"
        f"os.symlink({str(tmp_path)!r}, 'cache/a/dirlink')\n"
        "shutil.rmtree('cache')\n"
        "print(os.path.exists('cache'))\n"
    )
    assert (result.exit_code, result.output) == (0, "False\n")
    assert outside.read_text() == "kept"


def test_sqlite_databases_outside_the_scratch_directory_are_out_of_reach(tmp_path: Path) -> None:
    result = run(
        "import sqlite3\n"
        "sqlite3.connect('own.db').execute('create table t (x)')\n"
        "print('own database')\n"
        f"sqlite3.connect({str(tmp_path / 'store.sqlite3')!r})\n"
    )
    assert result.output.startswith("own database\n")
    assert "PermissionError: sandbox: may not open the database" in result.output
    assert not (tmp_path / "store.sqlite3").exists()


def test_a_descriptor_of_an_outside_file_cannot_change_it() -> None:
    # Read-only descriptors of the Python installation are allowed; fchmod through one is not (here to
    # its own mode, so that nothing changes even where the refusal were missing).
    result = run(
        "import json, os\nfd = os.open(json.__file__, os.O_RDONLY)\nos.chmod(fd, os.stat(fd).st_mode & 0o7777)\n"
    )
    assert "PermissionError: sandbox: os.chmod outside its own directory" in result.output
