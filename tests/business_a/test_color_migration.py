"""Migration 0014_color_names_upper: colour presets stored before names were uppercased are
uppercased like new ones; presets that then collide are merged into one, deterministically."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import insert, select, text

from apf_core.storage.tables.catalogue import colors
from apf_core.timeutil import new_id

VERSIONS = Path(__file__).resolve().parents[2] / "apf_core/storage/migrations/versions"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _migration() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "color_names_upper", VERSIONS / "0014_color_names_upper.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def _upgrade(database) -> None:
    module = _migration()

    def run(connection) -> None:
        with Operations.context(MigrationContext.configure(connection)):
            module.upgrade()

    async with database.engine.begin() as conn:
        await conn.run_sync(run)


async def _presets(database) -> dict[str, tuple[str, str, str, bool]]:
    query = select(
        colors.c.id,
        colors.c.color_name,
        colors.c.hex_code,
        colors.c.filament_type,
        colors.c.is_active,
    )
    async with database.read() as conn:
        return {
            r.id: (r.color_name, r.hex_code, r.filament_type, r.is_active)
            for r in await conn.execute(query)
        }


async def test_start_up_runs_the_migration(database) -> None:
    await database.migrate()
    async with database.engine.connect() as conn:
        heads = {r[0] for r in await conn.execute(text("SELECT version_num FROM alembic_version"))}
    assert "0014_color_names_upper" in heads
    assert "0002_catalogue" not in heads  # 0014 follows the catalogue branch


async def test_old_spellings_are_uppercased_and_collisions_merged(database) -> None:
    await database.migrate()
    ids = {
        name: new_id()
        for name in ("galaxy_new", "galaxy_old", "red_off", "red_on", "weiss", "blue", "black_abs")
    }
    rows = [  # (key, name, hex, filament type, active, age in days)
        ("galaxy_new", "Galaxy Black", "#ff00aa", "pla", True, 1),
        ("galaxy_old", "galaxy black", "#FF00AA", "PLA", True, 5),  # older: kept
        ("red_off", "  red ", "#cc0000", "petg", False, 9),  # older but inactive
        ("red_on", "RED", "#CC0000", "PETG", True, 2),  # active: kept
        ("weiss", "Weiß", "#ffffff", "pla", True, 3),  # beyond ASCII: Python's upper
        ("blue", "BLUE", "#0000FF", "PLA", False, 4),  # already stored as now: untouched
        ("black_abs", "galaxy black", "#111111", "abs", True, 6),  # another type: no collision
    ]
    async with database.begin() as conn:
        await conn.execute(
            insert(colors),
            [
                {
                    "id": ids[key],
                    "color_name": name,
                    "hex_code": hex_code,
                    "filament_type": kind,
                    "is_active": active,
                    "created_at": T0 - timedelta(days=age),
                    "updated_at": T0 - timedelta(days=age),
                }
                for key, name, hex_code, kind, active, age in rows
            ],
        )

    async with database.begin() as conn:  # a farm from before 0014: start-up upgrades it
        await conn.execute(
            text(
                "UPDATE alembic_version SET version_num = '0002_catalogue' "
                "WHERE version_num = '0014_color_names_upper'"
            )
        )
    await database.migrate()
    expected = {
        ids["galaxy_old"]: ("GALAXY BLACK", "#FF00AA", "PLA", True),
        ids["red_on"]: ("RED", "#CC0000", "PETG", True),
        ids["weiss"]: ("WEISS", "#FFFFFF", "PLA", True),
        ids["blue"]: ("BLUE", "#0000FF", "PLA", False),
        ids["black_abs"]: ("GALAXY BLACK", "#111111", "ABS", True),
    }
    assert await _presets(database) == expected
    await _upgrade(database)  # a second run changes nothing
    assert await _presets(database) == expected


async def test_service_sees_migrated_presets_as_taken(api) -> None:
    """After the migration the API's duplicate check and listing agree with the stored rows."""
    await _upgrade(api.farm.db)
    listed = (await api.get("/colors", params={"filament_type": "PLA"})).data
    assert all(c["color_name"] == c["color_name"].upper() for c in listed)
    existing = listed[0]
    reply = await api.post(
        "/colors",
        json={
            "color_name": existing["color_name"].lower(),
            "hex_code": "#123456",
            "filament_type": "pla",
        },
    )
    assert reply.status == 409, reply.body
