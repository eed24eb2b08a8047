"""Host names and web origins as text: parsing and one canonical form for each, so that a setting,
a `Host` header and a browser's `Origin` header compare as plain strings.

Browsers send `Origin` already canonical (scheme and host in lower case, no default port, IPv6 in
brackets, international names in punycode); settings and `Host` headers are brought to that form
here. No web framework: lib/config.py checks settings with it and views/origins.py requests.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
# A Host header: a name or IPv4 address, or an IPv6 address in brackets; then an optional port.
_HOST = re.compile(r"(?:\[(?P<v6>[0-9a-f:.]+)]|(?P<name>[a-z0-9._-]+))(?::(?P<port>[0-9]{1,5}))?", re.IGNORECASE)


def split_host(text: str) -> tuple[str, int | None] | None:
    """`host[:port]` as (host in lower case without brackets or a final dot, port or None); None when
    it is not one. A bare IPv6 address (`::1`, as a setting may name it) is taken without a port."""
    text = text.strip()
    try:
        return str(ipaddress.IPv6Address(text)), None
    except ValueError:
        pass
    match = _HOST.fullmatch(text)
    if match is None:
        return None
    port = int(match["port"]) if match["port"] else None
    if port is not None and not 0 < port < 65536:
        return None
    if match["v6"] is not None:
        try:
            return str(ipaddress.IPv6Address(match["v6"])), port
        except ValueError:
            return None
    name = match["name"].lower().removesuffix(".")
    return (name, port) if name and ".." not in name else None


def join_host(host: str, port: int | None) -> str:
    """The inverse of split_host: IPv6 in brackets when a port follows."""
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{port}"


def is_address(host: str) -> bool:
    """Whether `host` (as split_host gives it) is an IP address rather than a name."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=256)  # a server sees few origins: each request's own one is worked out once (~25 µs)
def canonical_origin(text: str) -> str | None:
    """`scheme://host[:port]` as a browser sends it in `Origin` (http or https only, no path, no
    default port); None when `text` is not such an origin."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or parts.path or parts.query or parts.fragment or "@" in parts.netloc:
        return None
    host = parts.hostname or ""
    split = split_host(host if is_address(host) else _punycode(host))
    if split is None or not split[0]:
        return None
    if port == DEFAULT_PORTS[scheme]:
        port = None
    return f"{scheme}://{join_host(split[0], port)}"


def _punycode(name: str) -> str:
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return ""
