"""Response schemas of the file routes, generated from the field lists the views use."""

from __future__ import annotations

import voluptuous as vol

from ..storage.tables.spine import file_versions, print_files
from .files import FILE_FIELDS, METADATA_COLUMNS, VERSION_FIELDS
from .row_schema import nullable, row_schema

#: :func:`~apf_core.services.files.file_view`
FILE = row_schema(print_files, FILE_FIELDS)
#: :func:`~apf_core.services.files.version_view`
VERSION = row_schema(file_versions, VERSION_FIELDS)
#: ``GET /files/{id}``
FILE_WITH_VERSIONS = {**FILE, vol.Required("versions"): [VERSION]}
FILE_DELETED = {vol.Required("id"): str, vol.Required("deleted"): bool, vol.Required("name"): str}
UPLOAD_TOKEN = {
    vol.Required("file_id"): str,
    vol.Required("filename"): str,
    vol.Required("upload_token"): str,
    vol.Required("content_type"): str,
    vol.Required("expires_in"): int,
    vol.Required("storage_key"): str,
    vol.Required("upload_url"): str,
}
UPLOADED = {vol.Required("size_bytes"): int}
#: ``POST /files/parse-metadata``: the name, the size and ``FileMetadata.as_dict()``
PARSED_METADATA = {
    vol.Required("name"): str,
    vol.Required("file_size_bytes"): int,
    **row_schema(print_files, METADATA_COLUMNS),
    **row_schema(print_files, ("has_thumbnail",)),
    vol.Required("slicer"): nullable(str),
    vol.Required("slicer_version"): nullable(str),
    vol.Required("printer_model"): nullable(str),
    vol.Required("layer_height"): nullable(vol.Any(float, int)),
    vol.Required("filament_types"): [str],
    vol.Required("plate_index"): nullable(int),
    vol.Required("gcode_entry"): nullable(str),
    vol.Required("thumbnail_mime"): nullable(str),
}
