"""Dispatcher tables: every automatic start attempt, for history and cooldowns."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table, Text

from ..types import UTCDateTime
from . import metadata

ID = String(36)

dispatch_attempts = Table(
    "dispatch_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", ID, nullable=False),
    Column("printer_id", ID, nullable=False),
    Column("outcome", String(20), nullable=False),  # started | failed | skipped
    Column("error_code", String(64), nullable=True),
    Column("message", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_dispatch_attempts_created", dispatch_attempts.c.created_at)
Index("ix_dispatch_attempts_job", dispatch_attempts.c.job_id)
