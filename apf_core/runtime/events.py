"""Runtime: the event hub (WebSocket fan-out), the webhook worker and retention.

Sets ``farm.event_hub``, ``farm.webhook_worker``, ``farm.event_settings`` and
``farm.event_keys``, and adds an HTTP shutdown hook
that closes open streams so the server stops without waiting for them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ..events.delivery import WebhookWorker
from ..events.hub import EventHub
from ..events.retention import RetentionTask
from ..events.settings import EventSettings
from ..services.keys import KeyService

if TYPE_CHECKING:
    from ..farm import Farm


async def start(farm: Farm) -> Callable[[], Awaitable[None]]:
    settings = farm.event_settings or EventSettings.from_env()
    farm.event_settings = settings
    farm.event_keys = KeyService(farm.db)
    hub = EventHub(farm.db, farm.events, settings)
    await hub.start()
    farm.event_hub = hub
    worker = WebhookWorker(farm, settings)
    await worker.start()
    farm.webhook_worker = worker
    retention = RetentionTask(farm.db, settings, farm.events.coalesced_types)
    retention.start()

    async def close_streams() -> None:
        await hub.stop()

    farm.http_shutdown_hooks.append(close_streams)

    async def stop() -> None:
        await retention.stop()
        await worker.stop()
        await hub.stop()
        farm.event_hub = None
        farm.webhook_worker = None
        if close_streams in farm.http_shutdown_hooks:
            farm.http_shutdown_hooks.remove(close_streams)

    return stop
