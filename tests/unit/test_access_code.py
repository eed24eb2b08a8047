"""The access code across restarts: generated once, configured codes applied once per change."""

from __future__ import annotations

from pathlib import Path

import pytest

from auth.access import AccessCode
from model import open_store


def restart(data_dir: Path, configured: str = "") -> tuple[AccessCode, str | None]:
    """A fresh AccessCode over the same data directory, as after a restart."""
    store = open_store(data_dir)
    access = AccessCode(store)
    return access, access.ensure(configured)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path


def test_a_generated_code_is_printed_once_and_kept(data_dir: Path) -> None:
    access, generated = restart(data_dir)
    assert generated and len(generated) >= 12 and access.verify(generated)
    again, shown = restart(data_dir)
    assert shown is None and again.verify(generated)


def test_a_changed_code_survives_a_restart_with_the_same_configuration(data_dir: Path) -> None:
    access, _ = restart(data_dir, "configured-code-1")
    assert access.verify("configured-code-1")
    access.change("changed-online-1")
    again, _ = restart(data_dir, "configured-code-1")
    assert again.verify("changed-online-1") and not again.verify("configured-code-1")


def test_a_new_configured_code_replaces_the_one_in_force(data_dir: Path) -> None:
    access, _ = restart(data_dir, "configured-code-1")
    access.change("changed-online-1")
    again, _ = restart(data_dir, "configured-code-2")
    assert again.verify("configured-code-2") and not again.verify("changed-online-1")


def test_short_codes_are_refused(data_dir: Path) -> None:
    access, _ = restart(data_dir, "configured-code-1")
    with pytest.raises(ValueError, match="at least 8"):
        access.change("short")
    assert access.verify("configured-code-1")
