"""Hosts and origins as settings and headers (lib/hosts.py, CORS_ORIGINS / ALLOWED_HOSTS in lib/config.py,
views/origins.py HostPolicy): one canonical form, so a setting and a header compare as strings."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from lib.config import ConfigError, Settings, load_settings
from lib.hosts import canonical_origin, split_host
from views.origins import HostPolicy, OriginPolicy


@pytest.mark.parametrize(("text", "expected"), [
    ("https://UI.Example.com", "https://ui.example.com"),
    ("https://ui.example.com:443", "https://ui.example.com"),
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
    ("http://[::1]:80", "http://[::1]"),
    ("https://bücher.example", "https://xn--bcher-kva.example"),
    ("https://ui.example.com/", None),  # a path: browsers never send one in Origin
    ("https://ui.example.com/app", None),
    ("ftp://ui.example.com", None),
    ("ui.example.com", None),
    ("https://user@ui.example.com", None),
    ("https://ui.example.com:99999", None),
    ("null", None),
])  # fmt: skip
def test_origins_take_the_form_browsers_send(text: str, expected: str | None) -> None:
    assert canonical_origin(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Desk.Example.com", ("desk.example.com", None)),
    ("desk.example.com.:8443", ("desk.example.com", 8443)),
    ("[::1]:5000", ("::1", 5000)),
    ("::1", ("::1", None)),
    ("127.0.0.1:5000", ("127.0.0.1", 5000)),
    ("evil.example/x", None),
    ("a b", None),
    ("desk.example.com:0", None),
    ("[zz::1]", None),
    ("", None),
])  # fmt: skip
def test_host_headers_split_into_name_and_port(text: str, expected: tuple[str, int | None] | None) -> None:
    assert split_host(text) == expected


def test_list_settings_come_from_a_yaml_list_or_a_comma_separated_environment_value(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("CORS_ORIGINS: [https://UI.example.com, 'http://127.0.0.1:8080']\n"
                    "ALLOWED_HOSTS: [Desk.Example.com, '[::1]:5000']\n", encoding="utf-8")  # fmt: skip
    settings = load_settings(path, environ={})
    assert settings.CORS_ORIGINS == ("https://ui.example.com", "http://127.0.0.1:8080")
    assert settings.ALLOWED_HOSTS == ("desk.example.com", "[::1]:5000")
    from_env = load_settings(path, environ={"CTPDESK_CORS_ORIGINS": "https://a.example, https://b.example:8443",
                                            "CTPDESK_ALLOWED_HOSTS": "desk.example.com"})  # fmt: skip
    assert from_env.CORS_ORIGINS == ("https://a.example", "https://b.example:8443")
    assert from_env.ALLOWED_HOSTS == ("desk.example.com",)
    assert load_settings(None, environ={"CTPDESK_CORS_ORIGINS": ""}).CORS_ORIGINS == ()


@pytest.mark.parametrize(("key", "value", "message"), [
    ("CORS_ORIGINS", "*", "'\\*' is not allowed"),
    ("CORS_ORIGINS", "https://ui.example.com/", "is not an origin"),
    ("CORS_ORIGINS", "ui.example.com", "is not an origin"),
    ("ALLOWED_HOSTS", "desk.example.com/path", "is not a host name"),
    ("CORS_ORIGINS", 5, "expected a list"),
])  # fmt: skip
def test_bad_list_entries_are_clear_errors(key: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=f"{key}: .*{message}"):
        load_settings(None, environ={}, **{key: value})


def test_by_default_the_desk_answers_to_its_bound_address_and_loopback_names_only() -> None:
    policy = HostPolicy.from_settings(Settings(HOST="127.0.0.1"))
    for host in ("127.0.0.1:5000", "localhost", "LOCALHOST:5000", "[::1]:5000", "127.0.0.1", None):
        assert policy.allows(host), host
    for host in ("evil.example", "evil.example:5000", "192.168.1.5:5000", "127.0.0.1.evil.example", "", "a b"):
        assert not policy.allows(host), host
    bound = HostPolicy.from_settings(Settings(HOST="192.168.1.5"))
    assert bound.allows("192.168.1.5:5000") and bound.allows("localhost") and not bound.allows("10.0.0.1")


def test_a_wildcard_bind_answers_to_any_address_and_the_machines_name_but_no_other_name() -> None:
    policy = HostPolicy.from_settings(Settings(HOST="0.0.0.0"))
    for host in ("10.1.2.3:5000", "[2001:db8::1]:5000", f"{socket.gethostname()}:5000", "localhost"):
        assert policy.allows(host), host
    assert not policy.allows("rebound.evil.example:5000")


def test_listed_hosts_replace_the_default_and_a_port_narrows_one() -> None:
    listed = ("desk.example.com", "ops.example.com:8443")
    policy = HostPolicy.from_settings(Settings(HOST="0.0.0.0", ALLOWED_HOSTS=listed))
    assert policy.allows("desk.example.com") and policy.allows("desk.example.com:8080")
    assert policy.allows("ops.example.com:8443") and not policy.allows("ops.example.com:8444")
    assert not policy.allows("10.1.2.3:5000")  # listed names: addresses are no longer taken on trust
    assert policy.allows("127.0.0.1:5000")  # loopback always (the health check on the machine itself)
    assert HostPolicy.from_settings(Settings(ALLOWED_HOSTS=("*",))).allows("anything.example")


def test_an_origin_is_the_desks_own_or_a_listed_one() -> None:
    origins = OriginPolicy(frozenset({"https://ui.example.com"}))
    behind_nginx = {"HTTP_HOST": "desk.example.com", "wsgi.url_scheme": "https"}
    assert origins.allows("https://desk.example.com", behind_nginx)
    assert origins.allows("https://ui.example.com", behind_nginx)
    assert origins.allows(None, behind_nginx)  # no Origin: not a browser page on another origin
    for foreign in ("http://desk.example.com", "https://desk.example.com:8443", "https://evil.example", "null"):
        assert not origins.allows(foreign, behind_nginx), foreign
    direct = {"HTTP_HOST": "127.0.0.1:5000", "wsgi.url_scheme": "http"}
    assert origins.allows("http://127.0.0.1:5000", direct) and not origins.allows("http://127.0.0.1:5001", direct)
