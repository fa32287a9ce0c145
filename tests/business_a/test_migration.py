"""Migration 0002_catalogue builds exactly the tables the code declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from apf_core.storage.tables import load_all

MINE = {
    "products",
    "product_images",
    "product_components",
    "skus",
    "colors",
    "kit_parts",
    "bom_children",
    "bom_inventory",
    "finished_goods",
    "stock_adjustments",
    "orders",
    "order_items",
    "assembly_tasks",
}


def _diff(connection):
    metadata = load_all()
    context = MigrationContext.configure(connection, opts={"compare_type": False})
    names = set(inspect(connection).get_table_names())
    diffs = [d for d in compare_metadata(context, metadata) if _table_of(d) in MINE]
    return names, diffs


def _table_of(diff) -> str | None:
    item = diff[0] if isinstance(diff, list) else diff
    for part in item[1:]:
        table = getattr(part, "table", None)
        if table is not None:
            return str(table.name)
        name = getattr(part, "name", None)
        if isinstance(part, str):
            return part
        if name in MINE:
            return str(name)
    return None


async def test_migration_matches_tables(database):
    await database.migrate()
    async with database.engine.connect() as conn:
        names, diffs = await conn.run_sync(_diff)
    assert names >= MINE
    assert diffs == []
