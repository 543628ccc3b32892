"""The client address: the socket peer unless that peer is a configured trusted proxy (SPEC §11)."""

from __future__ import annotations

import ipaddress
from typing import Any

import httpx
import pytest

from leadflow.platform.security import client_ip
from tests.conftest import Harness, problem

PROXIES = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8")]


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        # An untrusted peer's header is ignored, whatever it says.
        ("198.51.100.7", "203.0.113.5", PROXIES, "198.51.100.7"),
        ("198.51.100.7", "10.0.0.1", PROXIES, "198.51.100.7"),
        ("198.51.100.7", "203.0.113.5, 10.0.0.1", PROXIES, "198.51.100.7"),
        # No proxies configured: the header never counts.
        ("10.0.0.1", "203.0.113.5", [], "10.0.0.1"),
        # A trusted peer without a header is the client itself.
        ("10.0.0.1", None, PROXIES, "10.0.0.1"),
        ("10.0.0.1", "", PROXIES, "10.0.0.1"),
        ("10.0.0.1", " , ,", PROXIES, "10.0.0.1"),
        # Trusted peer: the right-most hop that is not a trusted proxy; anything the client put in front is ignored.
        ("10.0.0.1", "203.0.113.5", PROXIES, "203.0.113.5"),
        ("10.0.0.1", "203.0.113.5,10.2.3.4", PROXIES, "203.0.113.5"),
        ("10.0.0.1", "1.2.3.4, 203.0.113.5, 10.2.3.4", PROXIES, "203.0.113.5"),
        ("10.0.0.1", "10.9.9.9, 1.2.3.4, 203.0.113.5", PROXIES, "203.0.113.5"),
        ("10.0.0.1", "  203.0.113.5  ", PROXIES, "203.0.113.5"),
        # Every hop is a trusted proxy: the left-most one.
        ("10.0.0.1", "10.0.0.5, 10.0.0.6", PROXIES, "10.0.0.5"),
        ("10.0.0.1", "10.0.0.5", PROXIES, "10.0.0.5"),
        # A hop that is not an address makes the chain untrustworthy: the peer.
        ("10.0.0.1", "garbage", PROXIES, "10.0.0.1"),
        ("10.0.0.1", "203.0.113.5, garbage", PROXIES, "10.0.0.1"),
        ("10.0.0.1", "203.0.113.5:4711", PROXIES, "10.0.0.1"),
        ("10.0.0.1", "unknown, 10.0.0.6", PROXIES, "10.0.0.1"),
        # Garbage to the left of the right-most untrusted hop is never reached.
        ("10.0.0.1", "garbage, 203.0.113.5", PROXIES, "203.0.113.5"),
        # IPv6.
        ("fd00::1", "2001:db8::7", PROXIES, "2001:db8::7"),
        ("fd00::1", "2001:db8::7, fd00::2", PROXIES, "2001:db8::7"),
        ("2001:db8::9", "2001:db8::7", PROXIES, "2001:db8::9"),
        # No peer at all.
        (None, "203.0.113.5", PROXIES, "unknown"),
        ("", None, [], "unknown"),
    ],
)
def test_client_ip(peer: str | None, forwarded: str | None, trusted: list[Any], expected: str) -> None:
    assert client_ip(peer, forwarded, trusted) == expected


def test_single_host_proxy() -> None:
    trusted = [ipaddress.ip_network("127.0.0.1/32")]
    assert client_ip("127.0.0.1", "203.0.113.5", trusted) == "203.0.113.5"
    assert client_ip("127.0.0.2", "203.0.113.5", trusted) == "127.0.0.2"


# Through HTTP: the anonymous rate limit is keyed by this address. ------------------------------------------------


async def anonymous_hits(client: httpx.AsyncClient, n: int, forwarded: str | None = None) -> list[int]:
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    return [(await client.get("/api/v1/cities", headers=headers)).status_code for _ in range(n)]


@pytest.fixture
async def behind_proxy(harness_factory: Any) -> Harness:
    return await harness_factory(rate_limit_per_minute=3, trusted_proxies="10.0.0.0/8")  # type: ignore[no-any-return]


async def test_clients_behind_a_trusted_proxy_are_limited_separately(behind_proxy: Harness) -> None:
    proxy = behind_proxy.new_client(ip="10.1.2.3")
    assert await anonymous_hits(proxy, 3, "203.0.113.5") == [401, 401, 401]
    limited = await proxy.get("/api/v1/cities", headers={"X-Forwarded-For": "203.0.113.5"})
    problem(limited, 429, "rate-limited")
    # Another client behind the same proxy has its own budget.
    assert await anonymous_hits(proxy, 3, "203.0.113.6") == [401, 401, 401]
    # The first client is still limited even when it prepends a fake hop (the proxy appends the real one).
    spoofed = await proxy.get("/api/v1/cities", headers={"X-Forwarded-For": "1.1.1.1, 203.0.113.5"})
    problem(spoofed, 429, "rate-limited")
    # Through a chain of trusted proxies the right-most untrusted hop still counts.
    chained = await proxy.get("/api/v1/cities", headers={"X-Forwarded-For": "203.0.113.5, 10.4.4.4"})
    problem(chained, 429, "rate-limited")


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(behind_proxy: Harness) -> None:
    direct = behind_proxy.new_client(ip="198.51.100.7")
    statuses = [
        (await direct.get("/api/v1/cities", headers={"X-Forwarded-For": f"203.0.113.{i}"})).status_code
        for i in range(1, 5)
    ]
    assert statuses == [401, 401, 401, 429]
    # Rotating the header does not buy a new budget, with or without it.
    problem(await direct.get("/api/v1/cities"), 429, "rate-limited")
    # A different socket address is a different client.
    assert await anonymous_hits(behind_proxy.new_client(ip="198.51.100.8"), 1) == [401]


async def test_trusted_proxy_without_header_is_limited_as_itself(behind_proxy: Harness) -> None:
    proxy = behind_proxy.new_client(ip="10.1.2.3")
    assert await anonymous_hits(proxy, 3) == [401, 401, 401]
    problem(await proxy.get("/api/v1/cities"), 429, "rate-limited")
    # Clients it forwards are not affected.
    assert await anonymous_hits(proxy, 1, "203.0.113.5") == [401]


async def test_without_trusted_proxies_the_header_never_counts(harness_factory: Any) -> None:
    h: Harness = await harness_factory(rate_limit_per_minute=3)
    proxy = h.new_client(ip="10.1.2.3")
    statuses = [
        (await proxy.get("/api/v1/cities", headers={"X-Forwarded-For": f"203.0.113.{i}"})).status_code
        for i in range(1, 5)
    ]
    assert statuses == [401, 401, 401, 429]
