"""Spine tables: API keys, hubs, printers, print files, jobs, and the event outbox."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from ..types import UTCDateTime
from . import metadata

ID = String(36)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("key_prefix", String(24), nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("rate_limit", Integer, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("last_used_at", UTCDateTime, nullable=True),
)

server_settings = Table(
    "server_settings",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", JSON, nullable=True),
)

hubs = Table(
    "hubs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False, server_default="remote"),
    Column("firmware_version", String(50), nullable=True),
    Column("hardware_version", String(50), nullable=True),
    Column("is_online", Boolean, nullable=False, server_default="0"),
    Column("last_seen_at", UTCDateTime, nullable=True),
    Column("claimed_at", UTCDateTime, nullable=True),
    Column("token_hash", String(64), nullable=True, unique=True),
    #: the token-derived link root key, sealed with the server's master key (hub/vault.py)
    Column("link_key", Text, nullable=True),
    Column("discovered_printers", JSON, nullable=True),
    Column("discovered_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

printers = Table(
    "printers",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(120), nullable=False),
    Column("model", String(120), nullable=True),
    Column("manufacturer", String(120), nullable=True),
    Column("status", String(20), nullable=False, server_default="offline"),
    Column("location", String(200), nullable=True),
    Column("notes", Text, nullable=True),
    Column("nozzle_size", Float, nullable=True),
    Column("current_color", String(50), nullable=True),
    Column("current_color_hex", String(9), nullable=True),
    Column("current_filament_type", String(50), nullable=True),
    Column("current_build_plate", String(100), nullable=True),
    Column("has_ams", Boolean, nullable=False, server_default="0"),
    Column("is_active", Boolean, nullable=False, server_default="1"),
    Column("firmware_version", String(50), nullable=True),
    Column("total_print_time", Integer, nullable=False, server_default="0"),
    Column("filament_level", Float, nullable=True),
    Column("last_maintenance_date", UTCDateTime, nullable=True),
    Column("in_maintenance", Boolean, nullable=False, server_default="0"),
    Column("maintenance_type", String(120), nullable=True),
    Column("protocol", String(20), nullable=False),
    Column("connection", JSON, nullable=False),
    Column("hub_id", ID, ForeignKey("hubs.id", ondelete="SET NULL"), nullable=True),
    Column("auto_dispatch", Boolean, nullable=False, server_default="1"),
    Column("tags", JSON, nullable=True),
    Column("awaiting_bed_clear", Boolean, nullable=False, server_default="0"),
    Column("last_telemetry_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
Index("ix_printers_name", printers.c.name)

# storage_key / thumbnail_key: paths relative to Settings.files_dir (never returned raw)
print_files = Table(
    "print_files",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(255), nullable=False),
    Column("product_id", ID, nullable=True),
    Column("file_size_bytes", BigInteger, nullable=False, server_default="0"),
    Column("number_of_units", Integer, nullable=False, server_default="1"),
    Column("print_time_seconds", Integer, nullable=True),
    Column("filament_weight_grams", Float, nullable=True),
    Column("filament_length_meters", Float, nullable=True),
    Column("filament_type", String(50), nullable=True),
    Column("printer_model_id", String(120), nullable=True),
    Column("nozzle_diameter", Float, nullable=True),
    Column("layer_count", Integer, nullable=True),
    Column("curr_bed_type", String(100), nullable=True),
    Column("default_print_profile", String(200), nullable=True),
    Column("object_count", Integer, nullable=True),
    Column("has_thumbnail", Boolean, nullable=False, server_default="0"),
    Column("storage_key", String(500), nullable=False),
    Column("thumbnail_key", String(500), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
Index("ix_print_files_created_at", print_files.c.created_at)

file_versions = Table(
    "file_versions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("file_id", ID, ForeignKey("print_files.id", ondelete="CASCADE"), nullable=False),
    Column("version_number", Integer, nullable=False),
    Column("notes", String(500), nullable=True),
    Column("storage_key", String(500), nullable=False),
    Column("is_current_version", Boolean, nullable=False, server_default="0"),
    Column("metadata", JSON, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_file_versions_file", file_versions.c.file_id, file_versions.c.version_number, unique=True)

upload_tokens = Table(
    "upload_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("file_id", ID, nullable=False),
    Column("filename", String(255), nullable=False),
    Column("storage_key", String(500), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("api_key_id", ID, nullable=True),
    Column("size_bytes", BigInteger, nullable=True),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("uploaded_at", UTCDateTime, nullable=True),
    #: set when a file or version claimed the upload; the row stays until purged so a
    #: reused token is told it was used
    Column("used_at", UTCDateTime, nullable=True),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("status", String(20), nullable=False),
    Column("printer_id", ID, ForeignKey("printers.id", ondelete="SET NULL"), nullable=True),
    Column("print_file_id", ID, ForeignKey("print_files.id", ondelete="SET NULL"), nullable=True),
    Column("product_id", ID, nullable=True),
    Column("product_sku_id", ID, nullable=True),
    Column("product_name", String(200), nullable=True),
    Column("file_name", String(255), nullable=True),
    Column("number_of_units", Integer, nullable=False, server_default="1"),
    Column("quantity_per_print", Integer, nullable=False, server_default="1"),
    Column("requires_assembly", Boolean, nullable=False, server_default="0"),
    Column("color", String(50), nullable=True),
    Column("filament_type", String(50), nullable=True),
    Column("material_type", String(50), nullable=True),
    Column("printer_model", String(120), nullable=True),
    Column("required_tags", JSON, nullable=True),
    # {"plate": int, "use_ams": bool, "ams_mapping": [int]}: what the job pins for its start
    Column("start_options", JSON, nullable=True),
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("progress_percentage", Float, nullable=True),
    Column("estimated_print_time_minutes", Integer, nullable=True),
    Column("actual_print_time_minutes", Integer, nullable=True),
    Column("filament_weight_grams", Float, nullable=True),
    Column("failure_reason", Text, nullable=True),
    Column("order_id", ID, nullable=True),
    Column("order_item_id", ID, nullable=True),
    Column("time_submitted", UTCDateTime, nullable=False),
    Column("time_started", UTCDateTime, nullable=True),
    Column("time_completed", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
Index("ix_jobs_status_created", jobs.c.status, jobs.c.created_at)
Index("ix_jobs_printer", jobs.c.printer_id, jobs.c.status)
Index("ix_jobs_time_completed", jobs.c.time_completed)

events = Table(
    "events",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("type", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("payload", JSON, nullable=False),
)
Index("ix_events_type_id", events.c.type, events.c.id)
