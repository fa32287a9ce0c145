"""aiohttp sessions whose every connection passes the SSRF guard.

:class:`GuardedConnector` checks the addresses aiohttp is about to connect to
(after DNS, IP literals included, which aiohttp never hands to a resolver) and
then the peer address of the socket it actually got. Proxies from the
environment are ignored, so the checked address is the one the request reaches.
"""

from __future__ import annotations

import os
import socket
from typing import Any

import aiohttp

from .ssrf import METADATA_HOSTS, BlockedAddress, SsrfPolicy, literal_address, resolve


def _env_list(name: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in os.environ.get(name, "").split(",") if p.strip())


def printer_policy() -> SsrfPolicy:
    """Policy for printers and cameras: LAN and same host allowed, link-local and metadata refused.

    ``APF_PRINTER_ALLOWED_NETWORKS`` (comma-separated CIDRs, e.g. ``169.254.0.0/16``)
    explicitly allows more; ``APF_PRINTER_BLOCKED_NETWORKS`` refuses more.
    """
    return SsrfPolicy.build(
        allowed=_env_list("APF_PRINTER_ALLOWED_NETWORKS"),
        blocked=_env_list("APF_PRINTER_BLOCKED_NETWORKS"),
    )


class GuardedConnector(aiohttp.TCPConnector):
    """A TCP connector that refuses addresses the policy forbids, at connect time."""

    def __init__(self, policy: SsrfPolicy, **kwargs: Any) -> None:
        # the thread-pool resolver (getaddrinfo) sees /etc/hosts and works without aiodns
        kwargs.setdefault("resolver", aiohttp.ThreadedResolver())
        super().__init__(**kwargs)
        self.policy = policy

    async def _resolve_host(self, host: str, *args: Any, **kwargs: Any) -> Any:
        if host.lower().rstrip(".") in METADATA_HOSTS:  # refused before any DNS query
            raise BlockedAddress(f"{host} is a cloud metadata host")
        return await super()._resolve_host(host, *args, **kwargs)

    async def _wrap_create_connection(  # type: ignore[override]
        self, *args: Any, addr_infos: list[Any], req: Any, **kwargs: Any
    ) -> Any:
        host = str(req.url.raw_host or "")
        self.policy.check_addresses(host, [str(info[4][0]) for info in addr_infos])
        transport, protocol = await super()._wrap_create_connection(
            *args, addr_infos=addr_infos, req=req, **kwargs
        )
        sock: socket.socket | None = transport.get_extra_info("socket")
        try:
            peer = transport.get_extra_info("peername") or (sock.getpeername() if sock else None)
        except OSError as err:  # reset as it opened (a restarting peer): a connect failure
            transport.close()
            raise aiohttp.ClientConnectorError(req.connection_key, err) from err
        if peer:
            try:
                self.policy.check_addresses(host, [str(peer[0])])
            except BlockedAddress:
                transport.close()
                raise
        return transport, protocol


def guarded_session(policy: SsrfPolicy | None = None, **kwargs: Any) -> aiohttp.ClientSession:
    """The one way the server opens HTTP(S)/WebSocket sessions on a user's behalf.

    ``policy`` defaults to :func:`printer_policy`; other keyword arguments go to
    :class:`aiohttp.ClientSession` (headers, timeout, cookie_jar, auth...).
    """
    limit = int(kwargs.pop("limit", 100))
    connector = GuardedConnector(policy or printer_policy(), limit=limit)
    return aiohttp.ClientSession(connector=connector, trust_env=False, **kwargs)


async def check_host(host: str, port: int, policy: SsrfPolicy | None = None) -> None:
    """Resolve ``host`` and raise :class:`BlockedAddress` when any address is refused.

    For non-HTTP connections (Bambu MQTT/FTP) made by libraries that resolve on
    their own; an unresolvable host is left to the library to report."""
    guard = policy or printer_policy()
    if host.lower().rstrip(".") in METADATA_HOSTS:
        raise BlockedAddress(f"{host} is a cloud metadata host")
    literal = literal_address(host)
    if literal is not None:
        guard.check_addresses(host, [str(literal)])
        return
    try:
        addresses = await resolve(host, port)
    except OSError:
        return
    guard.check_addresses(host, addresses)
