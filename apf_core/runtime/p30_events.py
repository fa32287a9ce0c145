"""Runtime: the event hub (WebSocket fan-out), the webhook worker and retention.

Publishes ``farm.extensions["event_hub"]``, ``["webhook_worker"]``,
``["event_settings"]`` and ``["event_keys"]``, and adds an HTTP shutdown hook
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
    settings: EventSettings = farm.extensions.get("event_settings") or EventSettings.from_env()
    farm.extensions["event_settings"] = settings
    farm.extensions["event_keys"] = KeyService(farm.db)
    hub = EventHub(farm.db, farm.events, settings)
    await hub.start()
    farm.extensions["event_hub"] = hub
    worker = WebhookWorker(farm, settings)
    await worker.start()
    farm.extensions["webhook_worker"] = worker
    retention = RetentionTask(farm.db, settings, farm.events.coalesced_types)
    retention.start()

    async def close_streams() -> None:
        await hub.stop()

    farm.extensions.setdefault("http_shutdown_hooks", []).append(close_streams)

    async def stop() -> None:
        await retention.stop()
        await worker.stop()
        await hub.stop()
        farm.extensions.pop("event_hub", None)
        farm.extensions.pop("webhook_worker", None)
        hooks = farm.extensions.get("http_shutdown_hooks", [])
        if close_streams in hooks:
            hooks.remove(close_streams)

    return stop
