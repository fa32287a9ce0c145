"""Running the embedded server: farm start-up, HTTP listener, zeroconf, shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from . import __version__
from .api.app import create_app
from .api.connections import ConnectionLimits, GuardedAppRunner, default_max_connections
from .config import Settings
from .farm import Farm
from .storage.exclusive import sole_sqlite_server

_LOGGER = logging.getLogger(__name__)
ZEROCONF_TYPE = "_autoprintfarm._tcp.local."


@dataclass(slots=True)
class RunningServer:
    farm: Farm
    runner: web.AppRunner
    port: int

    @property
    def url(self) -> str:
        host = self.farm.settings.host
        if host in ("0.0.0.0", "::", ""):  # noqa: S104 - display only
            host = "127.0.0.1"
        return f"http://{host}:{self.port}"


@contextlib.asynccontextmanager
async def serve(settings: Settings, *, farm: Farm | None = None) -> AsyncIterator[RunningServer]:
    """Start the farm and the HTTP listener; stop both on exit. Port 0 picks a free port.

    On SQLite the process holds the database file for its life (a second server is
    refused with :class:`~apf_core.storage.exclusive.DatabaseInUse`)."""
    farm = farm or Farm(settings)
    with sole_sqlite_server(farm.db.url):
        async with _serve_farm(settings, farm) as server:
            yield server


@contextlib.asynccontextmanager
async def _serve_farm(settings: Settings, farm: Farm) -> AsyncIterator[RunningServer]:
    await farm.start()
    limits = ConnectionLimits(
        header_timeout=settings.header_timeout_seconds,
        idle_timeout=settings.idle_timeout_seconds,
        body_timeout=settings.body_timeout_seconds,
        max_connections=settings.max_connections or default_max_connections(),
    )
    runner = GuardedAppRunner(
        create_app(farm),
        limits,
        access_log=None,
        handle_signals=False,
        keepalive_timeout=settings.idle_timeout_seconds,
    )
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, reuse_address=True)
    try:
        await site.start()
        port = _bound_port(runner) or settings.port
        server = RunningServer(farm, runner, port)
        announcer = await _announce(settings, farm, port) if settings.zeroconf else None
        try:
            yield server
        finally:
            if announcer is not None:
                await announcer.async_close()
    finally:
        await runner.cleanup()
        await farm.stop()


def _bound_port(runner: web.AppRunner) -> int | None:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return None


async def _announce(settings: Settings, farm: Farm, port: int) -> Any:
    """Announce ``_autoprintfarm._tcp`` so Home Assistant discovers the server."""
    try:
        from zeroconf import ServiceInfo
        from zeroconf.asyncio import AsyncZeroconf
    except ImportError:  # pragma: no cover - zeroconf is a dependency
        return None
    host = settings.host if settings.host not in ("0.0.0.0", "::") else _lan_address()  # noqa: S104
    info = ServiceInfo(
        ZEROCONF_TYPE,
        f"APF {farm.server_id[:8]}.{ZEROCONF_TYPE}",
        addresses=[socket.inet_aton(host)],
        port=port,
        properties={"server_id": farm.server_id, "version": __version__, "path": "/public/v1"},
        server=f"apf-{farm.server_id[:8]}.local.",
    )
    zc = AsyncZeroconf()
    try:
        await zc.async_register_service(info)
    except Exception as err:  # a LAN without multicast must not stop the server
        _LOGGER.warning("zeroconf announcement failed: %s", err)
        await zc.async_close()
        return None
    return zc


def _lan_address() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


async def run_forever(settings: Settings, *, on_ready: object = None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with serve(settings) as server:
        if callable(on_ready):
            await on_ready(server)
        await stop.wait()
