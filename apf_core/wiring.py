"""Composition root of the server process: what starts, in which order, and what
follows a job transition.

:data:`RUNTIME` is the start order (they stop in reverse); each step sets the
typed :class:`~apf_core.farm.Farm` attributes it owns. Side effects of job
transitions are subscribed here, typed, and run in the transition's transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from .runtime import dispatch, drivers, events, hubs
from .services.production_effects import ProductionEffects
from .services.skus import SkuService

if TYPE_CHECKING:
    from .farm import Farm, Stopper

StartStep = Callable[["Farm"], Awaitable["Stopper | None"]]


async def start_production(farm: Farm) -> None:
    """Completed jobs feed stock, assembly tasks and orders; ``POST /jobs`` finds SKUs."""
    farm.lifecycle.on_job_completed(ProductionEffects(farm).job_completed)
    farm.sku_lookup = SkuService.lookup
    (farm.settings.data_dir / "images").mkdir(parents=True, exist_ok=True)


#: start order: drivers (farm.control, .drivers, .telemetry, .reload_printers), the
#: remote-hub link (.hub_link, needs the drivers), production effects (.sku_lookup),
#: event delivery (.event_hub, .webhook_worker, .event_settings, .event_keys) and the
#: dispatcher (.dispatcher)
RUNTIME: tuple[StartStep, ...] = (
    drivers.start,
    hubs.start,
    start_production,
    events.start,
    dispatch.start,
)
