"""Worklist tasks (reference 3.11).

``assigned_to`` and ``metadata`` are stored but never returned.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, String, Table, Text

from ..types import UTCDateTime
from . import metadata
from .spine import jobs

ID = String(36)

worklist_tasks = Table(
    "worklist_tasks",
    metadata,
    Column("id", ID, primary_key=True),
    Column("title", String(200), nullable=False),
    Column("subtitle", String(200), nullable=True),
    Column("description", Text, nullable=True),
    Column("task_type", String(20), nullable=False),
    Column("priority", String(10), nullable=False, server_default="medium"),
    Column("status", String(20), nullable=False, server_default="pending"),
    Column("printer_id", ID, ForeignKey("printers.id", ondelete="SET NULL"), nullable=True),
    Column("assigned_to", String(100), nullable=True),
    Column("estimated_time_minutes", Integer, nullable=True),
    Column("actual_time_minutes", Integer, nullable=True),
    Column("metadata", JSON, nullable=True),
    Column("started_at", UTCDateTime, nullable=True),
    Column("completed_at", UTCDateTime, nullable=True),
    Column("due_date", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
Index("ix_worklist_tasks_status", worklist_tasks.c.status, worklist_tasks.c.task_type)
Index("ix_worklist_tasks_created_at", worklist_tasks.c.created_at)

# Declared here (migration 0003 creates it) so the metadata matches the schema: the
# analytics range queries ("jobs in these states finished between A and B") seek on it.
Index("ix_jobs_status_completed", jobs.c.status, jobs.c.time_completed)
