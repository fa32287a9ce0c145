"""Runtime: printer drivers in this process (the embedded hub) and live telemetry.

Installs the :class:`~apf_core.drivers.manager.DriverManager` as ``farm.control``
and sets ``farm.drivers``, ``farm.telemetry`` and ``farm.reload_printers``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ..drivers.manager import DriverManager
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

    async def stop() -> None:
        await manager.stop()
        await telemetry.stop()

    return stop
