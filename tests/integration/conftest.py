"""What the in-process app tests share: a clean count of login attempts, and apps made per test (closed after
it): `web_factory` for test_web_api.Web, `apps` for the lab's LabApp."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from auth.attempts import attempts
from tests.integration.lab_apps import LabApp, make_lab
from tests.integration.test_web_api import Web, make_web


@pytest.fixture(autouse=True)
def _login_limit_reset() -> None:
    """Attempts at a secret count per client address for a minute: each test starts with none counted."""
    attempts.reset()


def _made_per_test(tmp_path: Path, build: Callable[..., Web]) -> Iterator[Callable[..., Any]]:
    """`make(data_dir=None, **settings)`: an app by `build` (its own data directory unless given); all closed
    after the test, the last made first."""
    made: list[Web] = []

    def make(data_dir: Path | None = None, **settings: Any) -> Any:
        made.append(build(data_dir or tmp_path / f"app{len(made)}", **settings))
        return made[-1]

    yield make
    for each in reversed(made):
        each.close()


@pytest.fixture
def web_factory(tmp_path: Path) -> Iterator[Callable[..., Web]]:
    yield from _made_per_test(tmp_path, make_web)


@pytest.fixture
def apps(tmp_path: Path) -> Iterator[Callable[..., LabApp]]:
    yield from _made_per_test(tmp_path, make_lab)
