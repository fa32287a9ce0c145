"""Dispatch: the log of automatic start attempts.

Revision ID: 0005_dispatch
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from apf_core.storage.types import UTCDateTime

revision = "0005_dispatch"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.String(36)


def upgrade() -> None:
    op.create_table(
        "dispatch_attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_id", ID, nullable=False),
        sa.Column("printer_id", ID, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_dispatch_attempts_created", "dispatch_attempts", ["created_at"])
    op.create_index("ix_dispatch_attempts_job", "dispatch_attempts", ["job_id"])


def downgrade() -> None:
    op.drop_index("ix_dispatch_attempts_job", table_name="dispatch_attempts")
    op.drop_index("ix_dispatch_attempts_created", table_name="dispatch_attempts")
    op.drop_table("dispatch_attempts")
