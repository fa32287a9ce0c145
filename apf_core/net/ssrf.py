"""Server-side request forgery guard for every outbound request (webhooks, printers, cameras).

Only ``http``/``https``. The host is resolved and every address checked; by
default link-local (169.254/16, fe80::/10, which holds the cloud metadata
services), known metadata addresses, multicast, unspecified, broadcast and
reserved ranges are refused. Loopback and private LAN targets (a Home
Assistant at 192.168.x.y) are allowed unless switched off. Sessions made by
:func:`apf_core.net.session.guarded_session` check the address actually
connected to, IP literals included (no DNS-rebinding window).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean
        "169.254.170.2",  # AWS ECS task metadata
        "100.100.100.200",  # Alibaba Cloud
        "fd00:ec2::254",  # AWS IPv6
    )
)
_ALWAYS_BLOCKED = tuple(
    ipaddress.ip_network(n) for n in ("0.0.0.0/8", "255.255.255.255/32", "240.0.0.0/4")
)
#: carrier-grade NAT space, also used by VPNs such as Tailscale: treated as private
_SHARED = ipaddress.ip_network("100.64.0.0/10")


METADATA_HOSTS = frozenset(("metadata.google.internal", "metadata", "instance-data"))


class BlockedAddress(aiohttp.ClientConnectionError, ValueError):
    """The URL's address is refused by the policy (never connected to)."""


@dataclass(frozen=True, slots=True)
class SsrfPolicy:
    allow_loopback: bool = True
    allow_private: bool = True
    blocked: tuple[IPNetwork, ...] = ()
    #: explicitly allowed networks win over every other rule
    allowed: tuple[IPNetwork, ...] = ()

    @classmethod
    def build(
        cls,
        *,
        allow_loopback: bool = True,
        allow_private: bool = True,
        blocked: Iterable[str] = (),
        allowed: Iterable[str] = (),
    ) -> SsrfPolicy:
        return cls(
            allow_loopback=allow_loopback,
            allow_private=allow_private,
            blocked=tuple(ipaddress.ip_network(n, strict=False) for n in blocked),
            allowed=tuple(ipaddress.ip_network(n, strict=False) for n in allowed),
        )

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` is refused, or None when it is allowed."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in net for net in self.allowed):
            return None
        if address in METADATA_ADDRESSES:
            return "cloud metadata address"
        if address.is_unspecified:
            return "unspecified address"
        if address.is_link_local:
            return "link-local address"
        if address.is_multicast:
            return "multicast address"
        if any(address in net for net in self.blocked):
            return "blocked network"
        if address.is_loopback:
            return None if self.allow_loopback else "loopback address"
        if any(address in net for net in _ALWAYS_BLOCKED if net.version == address.version):
            return "reserved address"
        if address.is_private or address in _SHARED:
            return None if self.allow_private else "private network address"
        if address.is_reserved:
            return "reserved address"
        return None

    def check_addresses(self, host: str, addresses: Iterable[str]) -> None:
        for text in addresses:
            reason = self.refusal(ipaddress.ip_address(text.split("%", 1)[0]))
            if reason is not None:
                raise BlockedAddress(f"{host} resolves to a {reason} ({text})")


def split_url(url: str) -> tuple[str, str, int]:
    """Scheme, host and port of an http(s) URL; raises ValueError when malformed."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise ValueError(f"malformed URL: {err}") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("only http and https URLs are allowed")
    if not parts.hostname:
        raise ValueError("URL has no host")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


async def resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


async def check_url(url: str, policy: SsrfPolicy, *, resolve_timeout: float = 5.0) -> str | None:
    """Validate a URL before storing it. Raises ValueError (malformed) or BlockedAddress.

    Returns a warning when the host cannot be resolved now (it may be a LAN name
    that resolves later; deliveries check again)."""
    _scheme, host, port = split_url(url)
    literal = literal_address(host)
    if literal is not None:
        policy.check_addresses(host, [str(literal)])
        return None
    if host.lower().rstrip(".") in METADATA_HOSTS:
        raise BlockedAddress(f"{host} is a cloud metadata host")
    try:
        async with asyncio.timeout(resolve_timeout):
            addresses = await resolve(host, port)
    except (OSError, TimeoutError) as err:
        return f"{host} does not resolve yet: {err}"
    policy.check_addresses(host, addresses)
    return None
