"""Runtime: printer drivers in this process (the embedded hub) and live telemetry.

Installs the :class:`~apf_core.drivers.manager.DriverManager` as ``farm.control``
and sets ``farm.drivers``, ``farm.telemetry`` and ``farm.reload_printers``; runs the
:class:`~apf_core.idle_watch.IdleWatch` over the printers reporting idle.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ..aio import cancel_and_wait
from ..drivers.manager import DriverManager
from ..idle_watch import IdleWatch
from ..telemetry import TelemetryBridge

if TYPE_CHECKING:
    from ..farm import Farm


async def start(farm: Farm) -> Callable[[], Awaitable[None]]:
    telemetry = TelemetryBridge(farm)
    manager = DriverManager(farm, telemetry)
    farm.control = manager
    farm.telemetry = telemetry
    farm.drivers = manager
    farm.reload_printers = manager.reload
    await manager.start()
    watch = asyncio.create_task(IdleWatch(farm, telemetry).run(), name="idle printer watch")

    async def stop() -> None:
        await cancel_and_wait(watch)
        await manager.stop()
        await telemetry.stop()

    return stop
