"""Runtime: the event hub (WebSocket fan-out) in every process; the webhook worker and
retention in the leading process only.

:func:`start` sets ``farm.event_hub``, ``farm.event_settings`` and ``farm.event_keys``
and adds an HTTP shutdown hook that closes open streams so the server stops without
waiting for them. :func:`start_delivery` sets ``farm.webhook_worker``.
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


def _settings(farm: Farm) -> EventSettings:
    settings = farm.event_settings or EventSettings.from_env()
    farm.event_settings = settings
    return settings


async def start(farm: Farm) -> Callable[[], Awaitable[None]]:
    farm.event_keys = KeyService(farm.db)
    hub = EventHub(farm.db, farm.events, _settings(farm))
    await hub.start()
    farm.event_hub = hub

    async def close_streams() -> None:
        await hub.stop()

    farm.http_shutdown_hooks.append(close_streams)

    async def stop() -> None:
        await hub.stop()
        farm.event_hub = None
        if close_streams in farm.http_shutdown_hooks:
            farm.http_shutdown_hooks.remove(close_streams)

    return stop


async def start_delivery(farm: Farm) -> Callable[[], Awaitable[None]]:
    """Webhook fan-out and delivery, and outbox retention (one process per farm)."""
    settings = _settings(farm)
    worker = WebhookWorker(farm, settings)
    await worker.start()
    farm.webhook_worker = worker
    retention = RetentionTask(farm.db, settings, farm.events.coalesced_types)
    retention.start()

    async def stop() -> None:
        await retention.stop()
        await worker.stop()
        farm.webhook_worker = None

    return stop
