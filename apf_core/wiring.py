"""Composition root of the server process: what starts, in which order, and what
follows a job transition.

:data:`RUNTIME` is the start order (they stop in reverse); each step sets the
typed :class:`~apf_core.farm.Farm` attributes it owns. Side effects of job
transitions are subscribed here, typed, and run in the transition's transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from .runtime import dispatch, drivers, events, hubs, leader
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


#: what only the leading process runs (see :mod:`apf_core.runtime.leader`), in start
#: order: drivers (farm.control, .drivers, .telemetry, .reload_printers), the remote-hub
#: link (.hub_link, needs the drivers), webhook delivery and retention (.webhook_worker)
#: and the dispatcher (.dispatcher)
LEADER_PARTS: tuple[StartStep, ...] = (
    drivers.start,
    hubs.start,
    events.start_delivery,
    dispatch.start,
)


async def start_leadership(farm: Farm) -> Stopper:
    """Leads at once on SQLite; on PostgreSQL one process of the farm leads at a time."""
    return await leader.start(farm, LEADER_PARTS)


#: start order (every process): production effects (.sku_lookup), the event hub
#: (.event_hub, .event_settings, .event_keys), then leadership (.leadership), which
#: starts :data:`LEADER_PARTS` while this process leads
RUNTIME: tuple[StartStep, ...] = (
    start_production,
    events.start,
    start_leadership,
)
