"""Spine: API keys, settings, hubs, printers, print files, jobs, event outbox.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from apf_core.storage.types import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(36)


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("key_prefix", sa.String(24), nullable=False),
        sa.Column("scopes", sa.JSON, nullable=False),
        sa.Column("rate_limit", sa.Integer, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=True),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
        sa.Column("last_used_at", UTCDateTime, nullable=True),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    op.create_table(
        "server_settings",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.JSON, nullable=True),
    )
    op.create_table(
        "hubs",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False, server_default="remote"),
        sa.Column("firmware_version", sa.String(50), nullable=True),
        sa.Column("hardware_version", sa.String(50), nullable=True),
        sa.Column("is_online", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("last_seen_at", UTCDateTime, nullable=True),
        sa.Column("claimed_at", UTCDateTime, nullable=True),
        sa.Column("token_hash", sa.String(64), nullable=True),
        sa.Column("discovered_printers", sa.JSON, nullable=True),
        sa.Column("discovered_at", UTCDateTime, nullable=True),
        *_timestamps(),
        sa.UniqueConstraint("token_hash", name="uq_hubs_token_hash"),
    )
    op.create_table(
        "printers",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("model", sa.String(120), nullable=True),
        sa.Column("manufacturer", sa.String(120), nullable=True),
        sa.Column("status", sa.String(20), nullable=False, server_default="offline"),
        sa.Column("location", sa.String(200), nullable=True),
        sa.Column("notes", sa.Text, nullable=True),
        sa.Column("nozzle_size", sa.Float, nullable=True),
        sa.Column("current_color", sa.String(50), nullable=True),
        sa.Column("current_color_hex", sa.String(9), nullable=True),
        sa.Column("current_filament_type", sa.String(50), nullable=True),
        sa.Column("current_build_plate", sa.String(100), nullable=True),
        sa.Column("has_ams", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("firmware_version", sa.String(50), nullable=True),
        sa.Column("total_print_time", sa.Integer, nullable=False, server_default="0"),
        sa.Column("filament_level", sa.Float, nullable=True),
        sa.Column("last_maintenance_date", UTCDateTime, nullable=True),
        sa.Column("in_maintenance", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("maintenance_type", sa.String(120), nullable=True),
        sa.Column("protocol", sa.String(20), nullable=False),
        sa.Column("connection", sa.JSON, nullable=False),
        sa.Column(
            "hub_id",
            ID,
            sa.ForeignKey("hubs.id", ondelete="SET NULL", name="fk_printers_hub_id_hubs"),
            nullable=True,
        ),
        sa.Column("auto_dispatch", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("tags", sa.JSON, nullable=True),
        sa.Column("awaiting_bed_clear", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("last_telemetry_at", UTCDateTime, nullable=True),
        *_timestamps(),
    )
    op.create_index("ix_printers_name", "printers", ["name"])
    op.create_table(
        "print_files",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("product_id", ID, nullable=True),
        sa.Column("file_size_bytes", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("number_of_units", sa.Integer, nullable=False, server_default="1"),
        sa.Column("print_time_seconds", sa.Integer, nullable=True),
        sa.Column("filament_weight_grams", sa.Float, nullable=True),
        sa.Column("filament_length_meters", sa.Float, nullable=True),
        sa.Column("filament_type", sa.String(50), nullable=True),
        sa.Column("printer_model_id", sa.String(120), nullable=True),
        sa.Column("nozzle_diameter", sa.Float, nullable=True),
        sa.Column("layer_count", sa.Integer, nullable=True),
        sa.Column("curr_bed_type", sa.String(100), nullable=True),
        sa.Column("default_print_profile", sa.String(200), nullable=True),
        sa.Column("object_count", sa.Integer, nullable=True),
        sa.Column("has_thumbnail", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("storage_key", sa.String(500), nullable=False),
        sa.Column("thumbnail_key", sa.String(500), nullable=True),
        *_timestamps(),
    )
    op.create_index("ix_print_files_created_at", "print_files", ["created_at"])
    op.create_table(
        "file_versions",
        sa.Column("id", ID, primary_key=True),
        sa.Column(
            "file_id",
            ID,
            sa.ForeignKey(
                "print_files.id", ondelete="CASCADE", name="fk_file_versions_file_id_print_files"
            ),
            nullable=False,
        ),
        sa.Column("version_number", sa.Integer, nullable=False),
        sa.Column("notes", sa.String(500), nullable=True),
        sa.Column("storage_key", sa.String(500), nullable=False),
        sa.Column("is_current_version", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("metadata", sa.JSON, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index(
        "ix_file_versions_file", "file_versions", ["file_id", "version_number"], unique=True
    )
    op.create_table(
        "upload_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("file_id", ID, nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("storage_key", sa.String(500), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("api_key_id", ID, nullable=True),
        sa.Column("size_bytes", sa.BigInteger, nullable=True),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("uploaded_at", UTCDateTime, nullable=True),
    )
    op.create_table(
        "jobs",
        sa.Column("id", ID, primary_key=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column(
            "printer_id",
            ID,
            sa.ForeignKey("printers.id", ondelete="SET NULL", name="fk_jobs_printer_id_printers"),
            nullable=True,
        ),
        sa.Column(
            "print_file_id",
            ID,
            sa.ForeignKey(
                "print_files.id", ondelete="SET NULL", name="fk_jobs_print_file_id_print_files"
            ),
            nullable=True,
        ),
        sa.Column("product_id", ID, nullable=True),
        sa.Column("product_sku_id", ID, nullable=True),
        sa.Column("product_name", sa.String(200), nullable=True),
        sa.Column("file_name", sa.String(255), nullable=True),
        sa.Column("number_of_units", sa.Integer, nullable=False, server_default="1"),
        sa.Column("quantity_per_print", sa.Integer, nullable=False, server_default="1"),
        sa.Column("requires_assembly", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("color", sa.String(50), nullable=True),
        sa.Column("filament_type", sa.String(50), nullable=True),
        sa.Column("material_type", sa.String(50), nullable=True),
        sa.Column("printer_model", sa.String(120), nullable=True),
        sa.Column("required_tags", sa.JSON, nullable=True),
        sa.Column("priority", sa.Integer, nullable=False, server_default="0"),
        sa.Column("progress_percentage", sa.Float, nullable=True),
        sa.Column("estimated_print_time_minutes", sa.Integer, nullable=True),
        sa.Column("actual_print_time_minutes", sa.Integer, nullable=True),
        sa.Column("filament_weight_grams", sa.Float, nullable=True),
        sa.Column("failure_reason", sa.Text, nullable=True),
        sa.Column("order_id", ID, nullable=True),
        sa.Column("order_item_id", ID, nullable=True),
        sa.Column("time_submitted", UTCDateTime, nullable=False),
        sa.Column("time_started", UTCDateTime, nullable=True),
        sa.Column("time_completed", UTCDateTime, nullable=True),
        *_timestamps(),
    )
    op.create_index("ix_jobs_status_created", "jobs", ["status", "created_at"])
    op.create_index("ix_jobs_printer", "jobs", ["printer_id", "status"])
    op.create_index("ix_jobs_time_completed", "jobs", ["time_completed"])
    op.create_table(
        "events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
    )
    op.create_index("ix_events_type_id", "events", ["type", "id"])


def downgrade() -> None:
    for table in (
        "events",
        "jobs",
        "upload_tokens",
        "file_versions",
        "print_files",
        "printers",
        "hubs",
        "server_settings",
        "api_keys",
    ):
        op.drop_table(table)
