"""The demo farm's timestamps tell one story (issue 13: demo jobs were created after they were
submitted): in every table with more than one timestamp, each row's timestamps come in order,
and rows come after what they refer to (a job after its file, printer and order; a finished
good after its SKU, a SKU after its product)."""

from __future__ import annotations

import importlib
import pkgutil

from sqlalchemy import Table, and_, func, select

import apf_core.storage.tables as table_package
from apf_core.storage.tables import metadata
from apf_core.storage.types import UTCDateTime

for _info in pkgutil.iter_modules(table_package.__path__):  # every table, not only the imported
    importlib.import_module(f"{table_package.__name__}.{_info.name}")

#: per table, (earlier, later) column pairs that hold for every row where both are set
ORDER: dict[str, list[tuple[str, str]]] = {
    "jobs": [
        ("created_at", "time_submitted"),
        ("time_submitted", "time_started"),
        ("time_started", "time_completed"),
        ("time_submitted", "time_completed"),
        ("time_completed", "updated_at"),
        ("created_at", "updated_at"),
    ],
    "orders": [
        ("order_date", "shipped_at"),
        ("created_at", "shipped_at"),
        ("created_at", "updated_at"),
    ],
    "worklist_tasks": [
        ("created_at", "started_at"),
        ("started_at", "completed_at"),
        ("created_at", "due_date"),
        ("created_at", "updated_at"),
    ],
    "wiki_articles": [("created_at", "published_at"), ("created_at", "updated_at")],
    "assembly_tasks": [("created_at", "completed_at"), ("created_at", "updated_at")],
    "api_keys": [("created_at", "revoked_at"), ("created_at", "last_used_at")],
    "hubs": [
        ("discovered_at", "claimed_at"),
        ("created_at", "updated_at"),
    ],
    "upload_tokens": [("uploaded_at", "used_at"), ("uploaded_at", "expires_at")],
    "webhook_deliveries": [("created_at", "last_attempt_at"), ("created_at", "delivered_at")],
    "printers": [("created_at", "updated_at")],
}
#: columns that are no step in the row's story: clocks of outside events or schedules
UNORDERED = {
    ("orders", "order_date"): "when the customer ordered, before or after it reached APF",
    ("hubs", "last_seen_at"): "the hub's last heartbeat, written without updated_at",
    ("hubs", "claimed_at"): "checked against discovered_at",
    ("printers", "last_telemetry_at"): "the last report, written without updated_at",
    ("printers", "last_maintenance_date"): "entered by the operator",
    ("webhook_deliveries", "next_attempt_at"): "a schedule",
    (
        "api_keys",
        "expires_at",
    ): "chosen by the operator (the test keys include one already expired)",
}
#: (child table, its column, parent table, parent key, child stamp, parent stamp): the child
#: row is never older than the row it refers to
REFERENCES = [
    ("jobs", "print_file_id", "print_files", "id", "time_submitted", "created_at"),
    ("jobs", "printer_id", "printers", "id", "time_submitted", "created_at"),
    ("jobs", "order_id", "orders", "id", "created_at", "created_at"),
    ("order_items", "order_id", "orders", "id", "created_at", "created_at"),
    ("skus", "product_id", "products", "id", "created_at", "created_at"),
    ("finished_goods", "product_sku_id", "skus", "id", "created_at", "created_at"),
    ("stock_adjustments", "finished_good_id", "finished_goods", "id", "created_at", "created_at"),
    ("worklist_tasks", "printer_id", "printers", "id", "created_at", "created_at"),
]
#: tables the demo fills, so the checks have rows to look at
SEEDED = ("jobs", "orders", "worklist_tasks", "wiki_articles", "printers", "print_files", "skus")


def _stamps(table: Table) -> list[str]:
    return [c.name for c in table.c if isinstance(c.type, UTCDateTime)]


def _multi_stamp_tables() -> dict[str, list[str]]:
    return {n: _stamps(t) for n, t in metadata.tables.items() if len(_stamps(t)) > 1}


def _pairs(name: str, columns: list[str]) -> list[tuple[str, str]]:
    """The table's pairs, with created_at <= updated_at wherever a table has both."""
    pairs = list(ORDER.get(name, []))
    if {"created_at", "updated_at"} <= set(columns):
        pairs.append(("created_at", "updated_at"))
    return pairs


def test_every_timestamp_is_placed() -> None:
    """A new timestamp column must say where it stands (or that it stands nowhere)."""
    missing = []
    for name, columns in _multi_stamp_tables().items():
        placed = {c for pair in _pairs(name, columns) for c in pair}
        placed |= {c for t, c in UNORDERED if t == name}
        missing += [f"{name}.{c}" for c in columns if c not in placed]
    assert not missing


async def test_demo_timestamps_are_in_order(api) -> None:
    tables = metadata.tables
    wrong: list[str] = []
    async with api.farm.db.read() as conn:
        for name in SEEDED:
            assert await conn.scalar(select(func.count()).select_from(tables[name])), name
        for name, columns in _multi_stamp_tables().items():
            table = tables[name]
            for earlier, later in _pairs(name, columns):
                rows = await conn.scalar(
                    select(func.count()).select_from(table).where(table.c[earlier] > table.c[later])
                )
                if rows:
                    wrong.append(f"{name}: {rows} rows with {earlier} after {later}")
        for child, key, parent, parent_key, stamp, parent_stamp in REFERENCES:
            c, p = tables[child], tables[parent]
            rows = await conn.scalar(
                select(func.count())
                .select_from(c.join(p, c.c[key] == p.c[parent_key]))
                .where(and_(c.c[stamp] < p.c[parent_stamp]))
            )
            if rows:
                wrong.append(f"{rows} {child}.{stamp} before their {parent}.{parent_stamp}")
    assert not wrong
