"""Colour presets: names, hex codes and filament types stored before the uppercase change are
uppercased (and trimmed) like every new one.

Presets that become the same (name, filament type) are merged: the active one is kept, then the
oldest, then the smallest id; it stays active when any of them was. Nothing refers to a preset
by id (SKUs, printers and kit parts hold colour names as text), so the others are deleted.

Revision ID: 0014_color_names_upper
Revises: 0002_catalogue
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0014_color_names_upper"
down_revision = "0002_catalogue"
branch_labels = None
depends_on = None

COLORS = sa.table(
    "colors",
    sa.column("id", sa.String),
    sa.column("color_name", sa.String),
    sa.column("hex_code", sa.String),
    sa.column("filament_type", sa.String),
    sa.column("is_active", sa.Boolean),
    sa.column("created_at"),  # compared as the backend returns it
)
NORMALISED = ("color_name", "hex_code", "filament_type")


def _upper(value: Any) -> Any:
    """As the service stores them (Python's upper, not SQLite's ASCII-only one)."""
    return value.strip().upper() if isinstance(value, str) else value


def _keeper_first(row: Any) -> tuple[bool, Any, str]:
    return (not row.is_active, row.created_at, str(row.id))


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(COLORS)).all()
    groups: dict[tuple[Any, Any], list[Any]] = {}
    for row in rows:
        groups.setdefault((_upper(row.color_name), _upper(row.filament_type)), []).append(row)
    keepers = []
    for members in groups.values():
        # an active preset first (so the kept one is active when any was), then the oldest
        keeper, *others = sorted(members, key=_keeper_first)
        if others:  # the duplicates go first, so no update meets the unique constraint
            conn.execute(sa.delete(COLORS).where(COLORS.c.id.in_([r.id for r in others])))
        keepers.append(keeper)
    for keeper in keepers:
        values = {name: _upper(getattr(keeper, name)) for name in NORMALISED}
        if values != {name: getattr(keeper, name) for name in NORMALISED}:
            conn.execute(sa.update(COLORS).where(COLORS.c.id == keeper.id).values(**values))


def downgrade() -> None:
    """The spelling before the change is not kept: nothing to undo."""
