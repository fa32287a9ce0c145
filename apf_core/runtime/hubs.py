"""Runtime: the server side of the remote-hub link (MQTT).

The link starts only when a remote hub exists (or ``APF_MQTT_URL`` is set), so
a farm without remote hubs opens no broker connection. ``POST /hubs`` starts
it on demand through ``farm.hub_link``.
Broker: ``farm.hub_broker_url``, else ``$APF_MQTT_URL``, else
``mqtt://127.0.0.1:1883``. Hub events (from any process of the farm) refresh the link.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from ..domain.events import Event
from ..hub.link import HubLink
from ..storage.tables.spine import hubs

if TYPE_CHECKING:
    from ..drivers.manager import DriverManager
    from ..farm import Farm
    from ..telemetry import TelemetryBridge

_LOGGER = logging.getLogger(__name__)
DEFAULT_BROKER = "mqtt://127.0.0.1:1883"
HUB_EVENTS = frozenset({"hub.created", "hub.token_rotated", "hub.deleted"})


class HubRuntime:
    """Owns the lazily started :class:`HubLink`."""

    def __init__(self, farm: Farm, drivers: DriverManager, telemetry: TelemetryBridge) -> None:
        self.farm = farm
        self.drivers = drivers
        self.telemetry = telemetry
        self.link: HubLink | None = None
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    def broker_url(self) -> str:
        return self.farm.hub_broker_url or os.environ.get("APF_MQTT_URL") or DEFAULT_BROKER

    async def ensure_started(self) -> HubLink:
        async with self._lock:
            if self.link is None:
                link = HubLink(self.farm, self.drivers, self.telemetry, self.broker_url())
                await link.start()
                self.link = link
            else:
                await self.link.refresh_hubs()
            return self.link

    def on_event(self, event: Event) -> None:
        """Hubs added, re-keyed or removed (in any process of the farm): refresh the link."""
        if event.type in HUB_EVENTS:
            task = asyncio.get_running_loop().create_task(self._refresh())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _refresh(self) -> None:
        try:
            await self.ensure_started()
        except Exception:
            _LOGGER.exception("could not refresh the remote-hub link")

    async def stop(self) -> None:
        for task in tuple(self._tasks):
            task.cancel()
        if self.link is not None:
            await self.link.stop()
            self.link = None


async def start(farm: Farm) -> Callable[[], Awaitable[None]]:
    if farm.drivers is None or farm.telemetry is None:
        raise RuntimeError("the hub link starts after the drivers (apf_core.wiring.RUNTIME)")
    runtime = HubRuntime(farm, farm.drivers, farm.telemetry)
    farm.hub_link = runtime
    async with farm.db.read() as conn:
        remote = await conn.scalar(
            select(func.count()).select_from(hubs).where(hubs.c.kind != "embedded")
        )
    if remote or os.environ.get("APF_MQTT_URL"):
        await runtime.ensure_started()
    unsubscribe = farm.events.subscribe(runtime.on_event)

    async def stop() -> None:
        unsubscribe()
        await runtime.stop()

    return stop
