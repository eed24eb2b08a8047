"""lib.lint: pylint in a subprocess, its JSON report as LintMessages."""

from __future__ import annotations

import threading

import pytest

from lib import lint as lint_module
from lib.lint import LintBusy, LintMemory, LintMessage, LintTimeout, lint


def test_undefined_name_is_e0602_at_its_line() -> None:
    messages = lint("import math\n\n\nprint(math.pi, undefined_name)\n")
    found = [message for message in messages if message.code == "E0602"]
    assert len(found) == 1
    assert found[0] == LintMessage(
        line=4, column=15, code="E0602", error="undefined-variable",
        message="Undefined variable 'undefined_name'", type="error",
    )  # fmt: skip


def test_syntax_error_is_e0001_with_its_line() -> None:
    messages = lint("x = 1\ny = 2\ndef broken(:\n    pass\n")
    assert [(message.code, message.error, message.line, message.type) for message in messages] == [
        ("E0001", "syntax-error", 3, "error")
    ]


def test_clean_code_has_no_errors_and_messages_come_sorted_by_line() -> None:
    text = "import os\nimport sys\n\n\ndef main():\n    return 1\n"
    messages = lint(text)
    assert not [message for message in messages if message.type in ("error", "fatal")]
    assert {message.code for message in messages} == {"W0611"}  # the two unused imports
    assert [message.line for message in messages] == [1, 2]


def test_the_project_is_importable_for_strategy_code() -> None:
    messages = lint("from backend.engine.constants import Direction\n\nprint(Direction.LONG)\n")
    assert not [message for message in messages if message.type in ("error", "fatal")]


def test_leading_blank_lines_keep_their_line_numbers() -> None:
    messages = lint("\n\n\nprint(nowhere)\n")
    assert [(message.code, message.line) for message in messages] == [("E0602", 4)]


def test_timeout_kills_pylint_and_raises() -> None:
    with pytest.raises(LintTimeout):
        lint("x = 1\n", timeout=0.001)
    assert lint("X = 1\n") == []  # the slot was given back


def test_busy_when_every_slot_stays_taken() -> None:
    taken = 0
    while lint_module._slots.acquire(blocking=False):
        taken += 1
    try:
        assert taken == lint_module.MAX_CONCURRENT
        with pytest.raises(LintBusy, match="busy"):
            lint("x = 1\n", wait=0.05)
    finally:
        for _ in range(taken):
            lint_module._slots.release()
    assert lint("X = 1\n", wait=0) == []


def test_concurrent_callers_share_the_slots(monkeypatch: pytest.MonkeyPatch) -> None:
    """More callers than slots: never more pylints than slots at once, and every caller gets its report."""
    results: list[list[str]] = []
    errors: list[BaseException] = []
    running = {"now": 0, "most": 0}
    counting = threading.Lock()
    real_run = lint_module._run

    def counted_run(*args: object) -> str:
        with counting:
            running["now"] += 1
            running["most"] = max(running["most"], running["now"])
        try:
            return real_run(*args)
        finally:
            with counting:
                running["now"] -= 1

    monkeypatch.setattr(lint_module, "_run", counted_run)

    def check(number: int) -> None:
        try:
            results.append([message.code for message in lint(f"print(missing_{number})\n", wait=120)])
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=check, args=(number,)) for number in range(lint_module.MAX_CONCURRENT + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert not errors
    assert results == [["E0602"]] * (lint_module.MAX_CONCURRENT + 1)
    assert 1 <= running["most"] <= lint_module.MAX_CONCURRENT
    assert lint_module._slots._value == lint_module.MAX_CONCURRENT  # every slot given back


def test_code_that_needs_more_memory_than_the_limit_is_lint_memory() -> None:
    """astroid folds `(0,) * 10**8` into a tuple of a hundred million items (800 MB each, issue 16)."""
    with pytest.raises(LintMemory, match="more memory than the checker allows \\(256 MB\\)"):
        lint("A = (0,) * 10**8\nprint(A)\n", memory_mb=256)


def test_the_memory_limit_leaves_ordinary_code_alone() -> None:
    messages = lint("import math\n\n\nprint(math.pi)\n", memory_mb=256)
    assert not [message for message in messages if message.type in ("error", "fatal")]
