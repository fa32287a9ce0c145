"""mDNS (DNS-SD) browsing for printer front ends that announce themselves:
OctoPrint ``_octoprint._tcp``, Moonraker ``_moonraker._tcp`` and PrusaLink
``_prusalink._tcp`` (PrusaLink also announces ``_octoprint._tcp`` for old slicers;
:func:`apf_core.discovery.model.merge` keeps it PrusaLink)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from zeroconf import InterfaceChoice, IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from .model import Found, clean_ip

SERVICE_TYPES = {
    "_octoprint._tcp.local.": "octoprint",
    "_moonraker._tcp.local.": "moonraker",
    "_prusalink._tcp.local.": "prusalink",
}
#: after the browse window, how long resolutions still running may finish
RESOLVE_GRACE = 0.5
_LOGGER = logging.getLogger(__name__)


def _text(properties: dict[Any, Any], key: str, limit: int = 80) -> str | None:
    value = properties.get(key.encode()) or properties.get(key)
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    value = str(value).strip() if value else ""
    return value[:limit] if value and value.isprintable() else None


def found_from_info(info: AsyncServiceInfo, service_type: str) -> Found | None:
    """A printer from a resolved service, or None if it has no usable address."""
    addresses = info.parsed_addresses(IPVersion.V4Only) or info.parsed_addresses()
    ip = clean_ip(addresses[0]) if addresses else None
    if ip is None or not info.port:
        return None
    suffix = "." + service_type
    name = info.name[: -len(suffix)] if info.name.endswith(suffix) else info.name
    props = info.properties or {}
    return Found(
        protocol=SERVICE_TYPES[service_type],
        name=name[:120] if name.isprintable() and name else ip,
        ip=ip,
        port=int(info.port),
        source="mdns",
        hostname=(info.server or "").rstrip(".")[:255] or None,
        model=_text(props, "model"),
        firmware_version=_text(props, "version", 40),
        service_type=service_type.removesuffix(".local."),
    )


class _Browse:
    def __init__(self, zc: AsyncZeroconf, resolve_ms: int) -> None:
        self.zc = zc
        self.resolve_ms = resolve_ms
        self.loop = asyncio.get_running_loop()
        self.tasks: dict[tuple[str, str], asyncio.Task[Found | None]] = {}

    def on_change(
        self,
        zeroconf: Zeroconf,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        if state_change is not ServiceStateChange.Removed:
            self.loop.call_soon_threadsafe(self._start, service_type, name)

    def _start(self, service_type: str, name: str) -> None:
        if (service_type, name) not in self.tasks and service_type in SERVICE_TYPES:
            self.tasks[(service_type, name)] = self.loop.create_task(
                self._resolve(service_type, name)
            )

    async def _resolve(self, service_type: str, name: str) -> Found | None:
        info = AsyncServiceInfo(service_type, name)
        if not await info.async_request(self.zc.zeroconf, self.resolve_ms):
            return None
        return found_from_info(info, service_type)

    async def results(self) -> list[Found]:
        pending = list(self.tasks.values())
        if not pending:
            return []
        done, late = await asyncio.wait(pending, timeout=RESOLVE_GRACE)
        for task in late:
            task.cancel()
        found = []
        for task in done:
            with contextlib.suppress(Exception):
                if (item := task.result()) is not None:
                    found.append(item)
        return found


async def browse(seconds: float, interfaces: Sequence[str] = ()) -> list[Found]:
    """Printers announced over mDNS within ``seconds`` (IPv4). ``interfaces``: addresses
    to listen on, all of them when empty. A host without multicast gives no printers."""
    try:
        zc = AsyncZeroconf(
            interfaces=list(interfaces) or InterfaceChoice.All, ip_version=IPVersion.V4Only
        )
    except OSError as err:
        _LOGGER.warning("mDNS discovery unavailable: %s", err)
        return []
    browsing = _Browse(zc, max(250, int(seconds * 1000)))
    browser = AsyncServiceBrowser(zc.zeroconf, list(SERVICE_TYPES), handlers=[browsing.on_change])
    try:
        await asyncio.sleep(seconds)
        return await browsing.results()
    finally:
        await browser.async_cancel()
        await zc.async_close()
