"""Hubs: the sealed link key of the authenticated hub protocol.

Hubs created before this have no link key and stay unlinked until their token
is rotated (``POST /hubs/{id}/rotate-token``).

Revision ID: 0011_hub_link_key
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_hub_link_key"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hubs") as batch:
        batch.add_column(sa.Column("link_key", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hubs") as batch:
        batch.drop_column("link_key")
