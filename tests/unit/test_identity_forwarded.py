"""Which address identity takes as the caller's: X-Forwarded-For only from the configured proxies, read from
the right, the first address that is not one of them."""

from __future__ import annotations

import pytest

from services.identity.forwarded import TrustedProxies, client_address, parse_networks

LOCAL = parse_networks("127.0.0.1, ::1")
GATEWAYS = parse_networks("10.0.0.0/8")


@pytest.mark.parametrize("remote, header, trusted, expected", [
    # a direct caller: its own header is its own word, never taken
    ("203.0.113.9", "198.51.100.1", LOCAL, "203.0.113.9"),
    ("203.0.113.9", None, LOCAL, "203.0.113.9"),
    # behind the local gateway: what the gateway saw
    ("127.0.0.1", "198.51.100.7", LOCAL, "198.51.100.7"),
    ("::1", "198.51.100.7", LOCAL, "198.51.100.7"),
    # a client's own X-Forwarded-For arrives in front of what the gateway appends: the right-most untrusted wins
    ("127.0.0.1", "6.6.6.6, 198.51.100.7", LOCAL, "198.51.100.7"),
    # a chain of trusted proxies (load balancer, gateway) is walked through
    ("10.1.2.3", "1.1.1.1, 198.51.100.7, 10.9.9.9", GATEWAYS, "198.51.100.7"),
    # the gateway with nothing to add, or only trusted hops: the left-most trusted hop
    ("127.0.0.1", None, LOCAL, "127.0.0.1"),
    ("10.1.2.3", "10.4.4.4", GATEWAYS, "10.4.4.4"),
    # garbage from a client is not an address: the hop before it stands
    ("127.0.0.1", "not-an-ip, 198.51.100.7", LOCAL, "198.51.100.7"),
    ("127.0.0.1", "198.51.100.7, junk", LOCAL, "127.0.0.1"),
    # nothing trusted: the peer, always
    ("127.0.0.1", "198.51.100.7", parse_networks(""), "127.0.0.1"),
])
def test_the_client_address(remote, header, trusted, expected):
    assert client_address(remote, header, trusted) == expected


@pytest.mark.parametrize("remote, header, expected", [
    # some load balancers write the peer's port too: the address is in it, never the proxy itself
    ("127.0.0.1", "198.51.100.7:51234", "198.51.100.7"),
    ("127.0.0.1", "[2001:db8::7]:51234", "2001:db8::7"),
    ("127.0.0.1", "[2001:db8::7]", "2001:db8::7"),
    ("127.0.0.1", "6.6.6.6, 198.51.100.7:443", "198.51.100.7"),
    ("127.0.0.1", " 198.51.100.7:8080 ", "198.51.100.7"),
    # a bare IPv6 address is not read as address:port
    ("127.0.0.1", "2001:db8::7", "2001:db8::7"),
    # a trusted hop with a port is walked through as a trusted hop
    ("127.0.0.1", "198.51.100.7, 127.0.0.1:40000", "198.51.100.7"),
    # what only looks like it is still not an address: the hop before it stands
    ("127.0.0.1", "198.51.100.7:port", "127.0.0.1"),
    ("127.0.0.1", "198.51.100.7:99999", "127.0.0.1"),
    ("127.0.0.1", "[198.51.100.7]:80", "127.0.0.1"),
    ("127.0.0.1", "[2001:db8::7:80", "127.0.0.1"),
])
def test_a_hop_written_with_its_port(remote, header, expected):
    assert client_address(remote, header, LOCAL) == expected


def test_bad_configuration_says_which_entry():
    with pytest.raises(ValueError, match="TRUSTED_PROXIES.*nonsense"):
        parse_networks("127.0.0.1, nonsense")


def test_the_middleware_sets_remote_addr_and_keeps_the_peer():
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        return []

    TrustedProxies(app, LOCAL)({"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "198.51.100.7"}, None)
    assert seen["REMOTE_ADDR"] == "198.51.100.7" and seen["identity.peer_addr"] == "127.0.0.1"
