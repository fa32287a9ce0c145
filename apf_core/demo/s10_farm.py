"""Demo printers (simulated), print files and a few jobs."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from ..storage.tables.spine import file_versions, jobs, print_files, printers
from ..timeutil import new_id, utcnow
from .gcode import demo_gcode

if TYPE_CHECKING:
    from ..farm import Farm

PRINTERS: list[dict[str, Any]] = [
    {
        "name": "Voron 2.4",
        "model": "Voron 2.4",
        "manufacturer": "Voron Design",
        "location": "Rack A",
        "current_filament_type": "PLA",
        "current_color": "Black",
        "current_color_hex": "#000000",
        "connection": {"speed": 120, "has_light": True},
    },
    {
        "name": "X1C",
        "model": "X1 Carbon",
        "manufacturer": "Bambu Lab",
        "location": "Rack A",
        "has_ams": True,
        "current_filament_type": "PLA",
        "current_color": "White",
        "current_color_hex": "#FFFFFF",
        "connection": {"speed": 120, "has_light": True, "has_ams": True},
    },
    {
        "name": "MK4",
        "model": "MK4",
        "manufacturer": "Prusa Research",
        "location": "Rack B",
        "current_filament_type": "PETG",
        "current_color": "Orange",
        "current_color_hex": "#FF6600",
        "connection": {"speed": 120, "has_light": False},
    },
    {
        "name": "Ender 3",
        "model": "Ender-3 V3",
        "manufacturer": "Creality",
        "location": "Rack B",
        "current_filament_type": "PLA",
        "current_color": "Grey",
        "current_color_hex": "#808080",
        "connection": {"speed": 120, "has_light": False},
    },
]
#: how long ago the demo farm was set up: printers and files exist before any job uses them
FARM_AGE = timedelta(days=3)
FILES: list[dict[str, Any]] = [
    {"name": "benchy.gcode", "minutes": 45, "layers": 240, "grams": 12.5, "filament": "PLA"},
    {"name": "phone-stand.gcode", "minutes": 90, "layers": 300, "grams": 38.0, "filament": "PLA"},
    {"name": "cable-clip.gcode", "minutes": 12, "layers": 60, "grams": 3.2, "filament": "PETG"},
]


async def seed(farm: Farm) -> None:
    now = utcnow()
    set_up = now - FARM_AGE
    async with farm.db.begin() as conn:
        printer_ids = [await _seed_printer(farm, conn, spec, set_up) for spec in PRINTERS]
        file_rows = [await _seed_file(farm, conn, spec, set_up) for spec in FILES]
        await _seed_jobs(conn, printer_ids, file_rows, now)


async def _seed_printer(
    farm: Farm, conn: AsyncConnection, spec: dict[str, Any], now: datetime
) -> str:
    row = {
        **spec,
        "id": new_id(),
        "protocol": "simulated",
        "status": "offline",
        "nozzle_size": 0.4,
        "hub_id": farm.embedded_hub_id,
        "tags": ["demo"],
        "created_at": now,
        "updated_at": now,
    }
    await conn.execute(insert(printers).values(**row))
    return str(row["id"])


async def _seed_file(
    farm: Farm, conn: AsyncConnection, spec: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """A demo G-code file on disk, its row and its first version."""
    file_id = new_id()
    key = f"{file_id}/v1/{spec['name']}"
    path = farm.settings.files_dir / key
    path.parent.mkdir(parents=True, exist_ok=True)
    content = demo_gcode(
        spec["name"],
        minutes=spec["minutes"],
        layers=spec["layers"],
        grams=spec["grams"],
        filament=spec["filament"],
        model="",
    )
    path.write_text(content)
    row = {
        "id": file_id,
        "name": spec["name"],
        "file_size_bytes": len(content.encode()),
        "print_time_seconds": spec["minutes"] * 60,
        "filament_weight_grams": spec["grams"],
        "filament_length_meters": round(spec["grams"] * 0.33, 2),
        "filament_type": spec["filament"],
        "nozzle_diameter": 0.4,
        "layer_count": spec["layers"],
        "object_count": 1,
        "storage_key": key,
        "created_at": now,
        "updated_at": now,
    }
    await conn.execute(insert(print_files).values(**row))
    await conn.execute(
        insert(file_versions).values(
            id=new_id(),
            file_id=file_id,
            version_number=1,
            storage_key=key,
            is_current_version=True,
            created_at=now,
        )
    )
    return row


async def _seed_jobs(
    conn: AsyncConnection, printer_ids: list[str], file_rows: list[dict[str, Any]], now: datetime
) -> None:
    """Two jobs that ended earlier today and three queued in the last hour, each on one
    timeline: created = submitted <= started <= completed <= updated."""
    # two hours ago, or halfway through the day so far before 04:00 (UTC), so that the
    # day's figures (completed and failed today) show them at any hour
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    done_at = max(now - timedelta(hours=2), midnight + (now - midnight) / 2)
    for index, (status, file) in enumerate(
        [
            ("completed", file_rows[0]),
            ("failed", file_rows[2]),
            ("queued", file_rows[1]),
            ("queued", file_rows[0]),
            ("queued", file_rows[2]),
        ]
    ):
        finished = status in ("completed", "failed")
        estimate = file["print_time_seconds"] // 60
        actual = estimate if status == "completed" else estimate // 2
        if finished:  # waited 15 minutes in the queue, then printed for `actual` minutes
            started = done_at - timedelta(minutes=actual)
            submitted = started - timedelta(minutes=15)
        else:  # queued in order, ten minutes apart
            submitted = now - timedelta(minutes=10 * (5 - index))
        await conn.execute(
            insert(jobs).values(
                id=new_id(),
                status=status,
                printer_id=printer_ids[index % 2] if finished else None,
                print_file_id=file["id"],
                file_name=file["name"],
                number_of_units=1,
                filament_type=file["filament_type"],
                estimated_print_time_minutes=estimate,
                filament_weight_grams=file["filament_weight_grams"],
                progress_percentage=100.0 if status == "completed" else None,
                failure_reason="Spaghetti detected" if status == "failed" else None,
                time_submitted=submitted,
                time_started=started if finished else None,
                time_completed=done_at if finished else None,
                actual_print_time_minutes=actual if finished else None,
                created_at=submitted,
                updated_at=done_at if finished else submitted,
            )
        )
