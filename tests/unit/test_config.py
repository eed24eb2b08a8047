"""Configuration: defaults, config.yaml, CTPDESK_<KEY> overrides, and clear errors (lib/config.py)."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from lib.config import ConfigError, Settings, load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.yaml"


def test_the_example_names_every_key_with_its_default() -> None:
    example = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    assert set(example) == {f.name for f in fields(Settings)}
    assert load_settings(EXAMPLE, environ={}) == Settings()


def test_no_file_means_the_defaults(tmp_path: Path) -> None:
    assert load_settings(tmp_path / "missing.yaml", environ={}) == Settings()


def test_environment_wins_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("PORT: 6000\nSIM_MODE: sessions\n", encoding="utf-8")
    settings = load_settings(path, environ={"CTPDESK_PORT": "7000", "CTPDESK_SHARED_FUNC": "yes",
                                            "MONGO_URI": "mongodb://127.0.0.1/x"})  # fmt: skip
    assert (settings.PORT, settings.SIM_MODE, settings.SHARED_FUNC) == (7000, "sessions", True)
    assert settings.MONGO_URI == "mongodb://127.0.0.1/x"


def test_prefixed_mongo_uri_wins_over_the_bare_one() -> None:
    settings = load_settings(None, environ={"MONGO_URI": "mongodb://a/x", "CTPDESK_MONGO_URI": "mongodb://b/x"})
    assert settings.MONGO_URI == "mongodb://b/x"


def test_a_bare_yaml_on_stays_a_word_for_text_settings(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("TICK_SESSION_FILTER: on\n", encoding="utf-8")  # YAML 1.1 reads this as true
    assert load_settings(path, environ={}).TICK_SESSION_FILTER == "on"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("PROT: 5000\n", "unknown keys PROT"),
        ("PORT: many\n", "PORT: expected a number"),
        ("PORT: true\n", "PORT: expected a number"),
        ("SHARED_FUNC: maybe\n", "SHARED_FUNC: expected a boolean"),
        ("TICK_MERGE_BACKLOG: -1\n", "TICK_MERGE_BACKLOG: expected 0 or more"),
        ("- PORT\n", "expected a mapping"),
    ],
)
def test_bad_files_are_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_settings(path, environ={})


def test_bad_environment_values_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match="REFRESH_INTERVAL: expected a number"):
        load_settings(None, environ={"CTPDESK_REFRESH_INTERVAL": "soon"})


def test_unknown_overrides_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown settings NOPE"):
        load_settings(None, environ={}, NOPE=1)
