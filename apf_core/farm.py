"""The farm: one object that holds storage, events, live state and printer control.

Routes reach services through it. The runtime parts (drivers, hub link, event
delivery, dispatcher) are typed attributes, ``None`` until :mod:`apf_core.wiring`
starts them (and on a farm started with ``runtime_modules=False``, and in a process
that does not lead the farm: see :mod:`apf_core.runtime.leader`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select

from .config import Settings
from .domain.control import OfflineControl, PrinterControl
from .domain.events import EventBus
from .domain.live import LiveStore, PrinterRowCache
from .lifecycle import Lifecycle
from .lifecycle.status import StatusViews
from .storage.db import Database
from .storage.tables.spine import hubs, server_settings
from .timeutil import new_id, utcnow
from .wiring import RUNTIME

if TYPE_CHECKING:
    from .discovery.model import Found
    from .dispatch import Dispatcher
    from .drivers.manager import DriverManager
    from .events.delivery import WebhookWorker
    from .events.hub import EventHub
    from .events.settings import EventSettings
    from .runtime.hubs import HubRuntime
    from .runtime.leader import Leadership
    from .services.job_reads import SkuLookup
    from .services.keys import KeyService
    from .telemetry import TelemetryBridge

_LOGGER = logging.getLogger(__name__)

Stopper = Callable[[], Awaitable[None]]


class Farm:
    """Composition root of the server process."""

    def __init__(self, settings: Settings, *, db: Database | None = None) -> None:
        self.settings = settings
        self.db = db or Database(settings.db_url)
        self.events = EventBus(self.db)
        self.live = LiveStore()
        self.printer_rows = PrinterRowCache()
        #: the last /status view of each printer, rebuilt when its inputs change
        self.status_views = StatusViews()
        self.events.subscribe(self.printer_rows.on_event)
        #: the only writer of job/printer states; completion side effects subscribe to it
        self.lifecycle = Lifecycle(self.events)
        self.control: PrinterControl = OfflineControl()
        self.server_id = ""
        self.embedded_hub_id = ""
        self._stoppers: list[Stopper] = []
        #: the embedded hub's LAN scan in progress (concurrent requests join it)
        self.discovery_scan: asyncio.Task[list[Found]] | None = None
        # --- runtime parts, set by apf_core.wiring (None while not running) -------------
        self.drivers: DriverManager | None = None
        self.telemetry: TelemetryBridge | None = None
        #: reloads the printers' drivers after rows were added behind the API (demo seed)
        self.reload_printers: Stopper | None = None
        self.hub_link: HubRuntime | None = None
        #: broker for the hub link; None: ``$APF_MQTT_URL`` or the default
        self.hub_broker_url: str | None = None
        #: finds a SKU for ``POST /jobs`` and job details
        self.sku_lookup: SkuLookup | None = None
        self.event_settings: EventSettings | None = None
        self.event_keys: KeyService | None = None
        self.event_hub: EventHub | None = None
        self.webhook_worker: WebhookWorker | None = None
        self.dispatcher: Dispatcher | None = None
        #: which process of the farm leads (runs the parts above but the event hub)
        self.leadership: Leadership | None = None
        #: run when the HTTP server shuts down, before it waits for open connections
        self.http_shutdown_hooks: list[Stopper] = []

    async def start(self, *, runtime_modules: bool = True) -> None:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.settings.files_dir.mkdir(parents=True, exist_ok=True)
        await self.db.migrate()
        self.server_id = await self._setting("server_id", new_id)
        self.embedded_hub_id = await self._ensure_embedded_hub()
        if runtime_modules:
            for start in RUNTIME:
                stop = await start(self)
                if stop is not None:
                    self._stoppers.append(stop)

    async def stop(self) -> None:
        while self._stoppers:
            stop = self._stoppers.pop()
            try:
                await stop()
            except Exception:
                _LOGGER.exception("error while stopping a runtime module")
        try:
            await self.events.close()
        except Exception:
            _LOGGER.exception("could not flush held events")
        await self.db.dispose()

    async def _setting(self, key: str, default: Callable[[], Any]) -> Any:
        async with self.db.begin() as conn:
            row = (
                await conn.execute(
                    select(server_settings.c.value).where(server_settings.c.key == key)
                )
            ).first()
            if row is not None:
                return row.value
            value = default()
            await conn.execute(insert(server_settings).values(key=key, value=value))
            return value

    async def _ensure_embedded_hub(self) -> str:
        async with self.db.begin() as conn:
            row = (await conn.execute(select(hubs.c.id).where(hubs.c.kind == "embedded"))).first()
            if row is not None:
                return str(row.id)
            hub_id = new_id()
            now = utcnow()
            await conn.execute(
                insert(hubs).values(
                    id=hub_id,
                    name="Embedded hub",
                    kind="embedded",
                    firmware_version="apf",
                    is_online=True,
                    last_seen_at=now,
                    claimed_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
            return hub_id
