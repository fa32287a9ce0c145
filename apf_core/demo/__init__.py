"""The demo farm for ``apf serve --demo``: seeders run in module-name order.

Each module ``sNN_*.py`` here defines ``async def seed(farm) -> None``. Seeding
runs once: only on a farm that has no printers yet.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from ..storage.tables.spine import printers

if TYPE_CHECKING:
    from ..farm import Farm


async def seed_demo(farm: Farm) -> bool:
    """Seed the demo farm; returns False when the farm already had printers."""
    async with farm.db.read() as conn:
        if await conn.scalar(select(func.count()).select_from(printers)):
            return False
    names = sorted(i.name for i in pkgutil.iter_modules(__path__) if i.name.startswith("s"))
    for name in names:
        module = importlib.import_module(f"{__name__}.{name}")
        await module.seed(farm)
    return True
