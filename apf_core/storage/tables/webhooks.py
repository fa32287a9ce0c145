"""Webhooks and their delivery log.

``webhooks.cursor`` is the id of the last outbox event already fanned out to
the webhook's deliveries; ``webhook_deliveries`` holds one row per
(webhook, event), so retries survive a restart and an event is recorded once.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from ..types import UTCDateTime
from . import metadata

ID = String(36)
EVENT_ID = BigInteger().with_variant(Integer, "sqlite")

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", ID, primary_key=True),
    Column("url", String(2000), nullable=False),
    Column("events", JSON, nullable=False),
    Column("secret", String(200), nullable=False),
    Column("enabled", Boolean, nullable=False, server_default="1"),
    Column("disabled_reason", Text, nullable=True),
    Column("failure_count", Integer, nullable=False, server_default="0"),
    Column("cursor", EVENT_ID, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# status: pending (due at next_attempt_at), delivered, failed (given up)
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("webhook_id", ID, ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("event_id", EVENT_ID, nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("status", String(20), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("last_attempt_at", UTCDateTime, nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("duration_ms", Integer, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime, nullable=True),
    PrimaryKeyConstraint("webhook_id", "event_id", name="pk_webhook_deliveries"),
)
Index(
    "ix_webhook_deliveries_due", webhook_deliveries.c.status, webhook_deliveries.c.next_attempt_at
)
Index(
    "ix_webhook_deliveries_created",
    webhook_deliveries.c.webhook_id,
    webhook_deliveries.c.created_at,
)
