"""Runtime: the dispatcher (``farm.dispatcher``)."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ..dispatch import Dispatcher
from ..dispatch.dispatcher import DEFAULT_INTERVAL

if TYPE_CHECKING:
    from ..farm import Farm


async def start(farm: Farm) -> Callable[[], Awaitable[None]]:
    interval = float(os.environ.get("APF_DISPATCH_INTERVAL", DEFAULT_INTERVAL))
    dispatcher = Dispatcher(farm, interval=interval)
    farm.dispatcher = dispatcher
    await dispatcher.start()
    return dispatcher.stop
