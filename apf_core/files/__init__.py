"""Print-file metadata: parse G-code, 3MF and mesh files without loading them whole.

``parse_metadata(path, filename)`` returns a frozen :class:`FileMetadata` or
raises :class:`MetadataError` (a ``ValueError``) for malformed files.
"""

from .metadata import (
    SUPPORTED_EXTENSIONS,
    FileKind,
    content_type_for,
    file_kind,
    parse_metadata,
)
from .model import JPEG_MIME, PNG_MIME, FileMetadata, MetadataError

__all__ = [
    "JPEG_MIME",
    "PNG_MIME",
    "SUPPORTED_EXTENSIONS",
    "FileKind",
    "FileMetadata",
    "MetadataError",
    "content_type_for",
    "file_kind",
    "parse_metadata",
]
