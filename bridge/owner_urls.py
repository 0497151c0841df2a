"""URLs a site's owner gives the bridge to call (their POS endpoint), checked before they are kept.

The bridge calls such a URL from inside the operator's network, so an owner could otherwise point
it at the bridge's own neighbours (a database, a cloud metadata service) and read the answers in
the dashboard. An owner's URL must be https to a public address: every address its host resolves
to is global. The operator may allow other targets (BRIDGE_ALLOW_PRIVATE_URLS, for tests and a
sandbox); URLs the operator sets (the environment, the CLI) are never checked.
"""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


class NotPublic(ValueError):
    """The URL is not one an owner may give: the message says why, for the owner."""


def check(url: str, *, allow_private: bool = False) -> None:
    """Raise NotPublic unless `url` is an https URL whose host is public (or private targets are
    allowed, where http is too)."""
    parts = urlsplit(url)
    if parts.scheme not in (("http", "https") if allow_private else ("https",)):
        raise NotPublic("must be an https:// address")
    if not parts.hostname:
        raise NotPublic("has no host name")
    if allow_private:
        return
    for ip in _addresses(parts.hostname, parts.port):
        if not ip.is_global:
            raise NotPublic(f"host {parts.hostname} is not a public address")


def _addresses(host: str, port: int | None) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass  # a name: every address it resolves to counts
    try:
        found = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError):
        raise NotPublic(f"host {host} could not be found") from None
    return [ipaddress.ip_address(address[0].split("%", 1)[0]) for *_, address in found]
