"""Demo operations data: filament spools (one low), components, a wiki article, worklist tasks."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select

from ..storage.tables.materials import filament_spools, material_components, material_packaging
from ..storage.tables.spine import printers
from ..storage.tables.wiki import wiki_articles
from ..storage.tables.worklist import worklist_tasks
from ..timeutil import new_id, utcnow

if TYPE_CHECKING:
    from ..farm import Farm

SPOOLS: list[dict[str, Any]] = [
    {"type": "PLA", "color": "Black", "hex_code": "#000000", "brand": "Prusament",
     "remaining_grams": 820.0, "low_threshold": 150.0, "location": "Shelf 1"},
    {"type": "PLA", "color": "White", "hex_code": "#FFFFFF", "brand": "Bambu",
     "remaining_grams": 95.0, "low_threshold": 150.0, "location": "Shelf 1"},  # low
    {"type": "PETG", "color": "Orange", "hex_code": "#FF6600", "brand": "Prusament",
     "remaining_grams": 640.0, "low_threshold": 150.0, "location": "Shelf 2"},
    {"type": "TPU", "color": "Grey", "hex_code": "#808080", "brand": "Overture",
     "remaining_grams": 0.0, "low_threshold": 100.0, "location": "Shelf 2"},  # empty
]
COMPONENTS: list[dict[str, Any]] = [
    {"type": "magnet", "name": "6x3 mm neodymium magnet", "size": "6x3mm",
     "remaining_units": 480, "low_threshold": 100, "location": "Drawer A"},
    {"type": "screw", "name": "M3x8 socket head", "size": "M3x8",
     "remaining_units": 35, "low_threshold": 50, "location": "Drawer B"},  # low
    {"type": "led", "name": "Warm white LED strip", "color": "warm white",
     "remaining_units": 12, "low_threshold": 5, "location": "Drawer C"},
]
PACKAGING: list[dict[str, Any]] = [
    {"type": "box", "name": "Small mailer box", "remaining_units": 120, "low_threshold": 30},
]
ARTICLE: dict[str, Any] = {
    "title": "Changing filament on the Voron",
    "slug": "changing-filament-on-the-voron",
    "excerpt": "Unload, swap and purge in five minutes.",
    "category": "Maintenance",
    "tags": ["filament", "voron"],
    "difficulty": "easy",
    "estimated_time_minutes": 5,
    "tools_required": ["side cutters"],
    "content": "Heat the nozzle, unload the old filament, cut the new end at an angle, "
               "load and purge.",
    "sections": [
        {"id": "s1", "type": "step", "order": 1, "number": 1, "title": "Heat the nozzle",
         "content": "Preheat to the old filament's temperature."},
        {"id": "s2", "type": "step", "order": 2, "number": 2, "title": "Unload",
         "content": "Run the unload macro and pull the filament out."},
        {"id": "s3", "type": "warning", "order": 3, "title": "Hot end",
         "content": "The nozzle is hot.", "warnings": ["Do not touch the nozzle."]},
    ],
}


async def seed(farm: Farm) -> None:
    now = utcnow()
    stamps = {"created_at": now, "updated_at": now}
    async with farm.db.begin() as conn:
        names = {
            name: pid for pid, name in (await conn.execute(select(printers.c.id, printers.c.name)))
        }
        for table, specs in ((filament_spools, SPOOLS), (material_components, COMPONENTS),
                             (material_packaging, PACKAGING)):
            for spec in specs:
                await conn.execute(insert(table).values(id=new_id(), **spec, **stamps))
        await conn.execute(insert(wiki_articles).values(
            id=new_id(), **ARTICLE, is_published=True, published_at=now, **stamps
        ))
        tasks: list[dict[str, Any]] = [
            {"title": "Nozzle and belt check", "task_type": "maintenance", "priority": "high",
             "printer_id": names.get("MK4"), "estimated_time_minutes": 30,
             "due_date": now + timedelta(days=2), "metadata": {"maintenance_type": "Nozzle check"}},
            {"title": "Load white PLA", "task_type": "filament_change", "priority": "medium",
             "printer_id": names.get("X1C"), "estimated_time_minutes": 5,
             "metadata": {"filament_type": "PLA", "color": "White", "color_hex": "#FFFFFF"}},
            # made when the demo benchy finished (two hours ago), due an hour later: overdue
            {"title": "Collect finished benchy", "task_type": "collection", "priority": "low",
             "printer_id": names.get("Voron 2.4"), "due_date": now - timedelta(hours=1),
             "created_at": now - timedelta(hours=2), "updated_at": now - timedelta(hours=2)},
            {"title": "Inspect phone stands", "task_type": "quality_check", "priority": "medium",
             "subtitle": "Batch of 10"},
        ]
        for task in tasks:
            await conn.execute(insert(worklist_tasks).values(
                id=new_id(), status="pending", **(stamps | task)
            ))
