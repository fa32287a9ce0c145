"""Events: webhooks, their delivery log, and an outbox index for retention.

Revision ID: 0004_events
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from apf_core.storage.types import UTCDateTime

revision = "0004_events"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.String(36)
EVENT_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "webhooks",
        sa.Column("id", ID, primary_key=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("events", sa.JSON, nullable=False),
        sa.Column("secret", sa.String(200), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("disabled_reason", sa.Text, nullable=True),
        sa.Column("failure_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("cursor", EVENT_ID, nullable=False, server_default="0"),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column(
            "webhook_id",
            ID,
            sa.ForeignKey(
                "webhooks.id", ondelete="CASCADE", name="fk_webhook_deliveries_webhook_id_webhooks"
            ),
            nullable=False,
        ),
        sa.Column("event_id", EVENT_ID, nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTCDateTime, nullable=True),
        sa.Column("last_attempt_at", UTCDateTime, nullable=True),
        sa.Column("last_status_code", sa.Integer, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("duration_ms", sa.Integer, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("delivered_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("webhook_id", "event_id", name="pk_webhook_deliveries"),
    )
    op.create_index(
        "ix_webhook_deliveries_due", "webhook_deliveries", ["status", "next_attempt_at"]
    )
    op.create_index(
        "ix_webhook_deliveries_created", "webhook_deliveries", ["webhook_id", "created_at"]
    )
    # retention deletes old telemetry by (type, created_at)
    op.create_index("ix_events_type_created", "events", ["type", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_events_type_created", table_name="events")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhooks")
