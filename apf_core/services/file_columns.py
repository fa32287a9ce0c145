"""How a parsed file's metadata becomes print_files columns, version metadata and the
public view (pure functions; :mod:`apf_core.services.files` stores the results)."""

from __future__ import annotations

from typing import Any

from ..files import FileMetadata
from ..files.store import thumbnail_key


def thumbnail_entry(file_id: str, number: int, meta: FileMetadata) -> tuple[str, bytes] | None:
    if meta.thumbnail is None:
        return None
    return thumbnail_key(file_id, number, meta.thumbnail_mime or "image/png"), meta.thumbnail


#: column widths of print_files (PostgreSQL enforces them)
_WIDTHS = {
    "filament_type": 50,
    "printer_model_id": 120,
    "curr_bed_type": 100,
    "default_print_profile": 200,
}


def _fitted(meta: FileMetadata) -> dict[str, Any]:
    fields = meta.api_fields()
    for column, width in _WIDTHS.items():
        value = fields[column]
        if isinstance(value, str) and len(value) > width:
            fields[column] = value[:width]
    return fields


def file_columns(
    meta: FileMetadata, size: int, stored_key: str, thumb: tuple[str, bytes] | None
) -> dict[str, Any]:
    return {
        **_fitted(meta),
        "file_size_bytes": size,
        "storage_key": stored_key,
        "thumbnail_key": thumb[0] if thumb else None,
        "has_thumbnail": thumb is not None,
    }


def version_metadata(
    meta: FileMetadata, size: int, thumb: tuple[str, bytes] | None, filename: str
) -> dict[str, Any]:
    """What a version remembers so it can become current again later."""
    return {
        **meta.as_dict(),
        **_fitted(meta),
        "file_size_bytes": size,
        "thumbnail_key": thumb[0] if thumb else None,
        "filename": filename,
    }


def base_name(filename: str) -> str:
    """The last path segment of a client-supplied name (never echo a path back)."""
    return filename.replace("\\", "/").rsplit("/", 1)[-1]


def public_metadata(meta: FileMetadata) -> dict[str, Any]:
    return meta.as_dict()
