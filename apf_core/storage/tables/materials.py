"""Materials: filament spools, components, packaging and printer parts (reference 3.9).

``status`` is never stored: it is computed from (remaining, low_threshold) when read.
``cost_per_unit`` / ``reorder_link`` do not exist here: they are never accepted or returned.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, String, Table

from ..types import UTCDateTime
from . import metadata

ID = String(36)

filament_spools = Table(
    "filament_spools",
    metadata,
    Column("id", ID, primary_key=True),
    Column("type", String(100), nullable=False),
    Column("color", String(50), nullable=False),
    Column("hex_code", String(7), nullable=True),
    Column("brand", String(100), nullable=True),
    Column("diameter", String(20), nullable=True),
    Column("remaining_grams", Float, nullable=False, server_default="0"),
    Column("spool_weight_grams", Float, nullable=True),
    Column("low_threshold", Float, nullable=True),
    Column("location", String(200), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
Index("ix_filament_spools_type", filament_spools.c.type, filament_spools.c.color)


def _unit_stock(name: str) -> Table:
    """Components, packaging and parts share one shape (counted in units)."""
    return Table(
        name,
        metadata,
        Column("id", ID, primary_key=True),
        Column("type", String(100), nullable=False),
        Column("name", String(200), nullable=True),
        Column("color", String(50), nullable=True),
        Column("brand", String(100), nullable=True),
        Column("diameter", String(20), nullable=True),
        Column("size", String(50), nullable=True),
        Column("remaining_units", Integer, nullable=False, server_default="0"),
        Column("low_threshold", Integer, nullable=True),
        Column("location", String(200), nullable=True),
        Column("created_at", UTCDateTime, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
    )


material_components = _unit_stock("material_components")
Index("ix_material_components_type", material_components.c.type)
material_packaging = _unit_stock("material_packaging")
material_parts = _unit_stock("material_parts")
