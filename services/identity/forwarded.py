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
    """A hop's address: `a.b.c.d`, an IPv6 address, or either with the port some load balancers add
    (`a.b.c.d:port`, `[v6]:port`, `[v6]`); None if it is none of these."""
    text = text.strip()
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not _port(rest)):
            return None
        address = _ip(host)
        return address if isinstance(address, ipaddress.IPv6Address) else None
    if text.count(":") == 1:  # one colon: IPv4 with a port (an IPv6 address has at least two)
        host, _, port = text.partition(":")
        address = _ip(host) if _port(":" + port) else None
        return address if isinstance(address, ipaddress.IPv4Address) else None
    return _ip(text)


def _ip(text: str):
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _port(text: str) -> bool:
    """`:port`, with a port a TCP connection can have."""
    digits = text[1:]
    return text.startswith(":") and digits.isascii() and digits.isdigit() and len(digits) <= 5 and int(digits) <= 65535


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
