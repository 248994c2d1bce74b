"""The caller's address: X-Forwarded-For is believed only from the configured proxies (TRUSTED_PROXIES).

Each proxy appends the address of its own peer, so the header is read from the right: past the hops that are
trusted proxies, the first address that is not one is the client. What lies further left was written by the
client itself, or by proxies nobody vouches for, and is never taken. A caller that is not a trusted proxy is
the client, whatever header it sends.
"""

from __future__ import annotations

import ipaddress

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    """`127.0.0.1, ::1, 10.0.0.0/8` into networks; a wrong entry stops the start, naming it."""
    networks = []
    for entry in (e.strip() for e in (text or "").split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as exc:
            raise ValueError(f"TRUSTED_PROXIES: {entry!r} is not an address or a network") from exc
    return tuple(networks)


def _address(text: str):
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address, networks: tuple[Network, ...]) -> bool:
    if address is None:
        return False
    if getattr(address, "ipv4_mapped", None):
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def client_address(remote: str, forwarded_for: str | None, trusted: tuple[Network, ...]) -> str:
    if not forwarded_for or not _trusted(_address(remote), trusted):
        return remote
    client = remote
    for hop in reversed(forwarded_for.split(",")):
        address = _address(hop)
        if address is None:
            break  # not an address: written by whoever sent it, not by a proxy; the hop before it stands
        client = str(address)
        if not _trusted(address, trusted):
            break
    return client


class TrustedProxies:
    """WSGI middleware: REMOTE_ADDR becomes the client's address; the peer stays in `identity.peer_addr`."""

    def __init__(self, app, trusted: tuple[Network, ...]):
        self.app = app
        self.trusted = trusted

    def __call__(self, environ, start_response):
        remote = environ.get("REMOTE_ADDR", "")
        environ["identity.peer_addr"] = remote
        environ["REMOTE_ADDR"] = client_address(remote, environ.get("HTTP_X_FORWARDED_FOR"), self.trusted)
        return self.app(environ, start_response)
