"""Entry point: pick the parser for a file by its name and run it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

from .bgcode import parse_bgcode
from .gcode import parse_gcode
from .meshes import parse_amf, parse_obj, parse_stl
from .model import FileMetadata, MetadataError
from .threemf import parse_3mf

FileKind = Literal["3mf", "gcode", "bgcode", "stl", "obj", "amf"]

#: extensions accepted for print files; ".gcode.3mf" is a 3MF
SUPPORTED_EXTENSIONS: tuple[FileKind, ...] = ("3mf", "gcode", "bgcode", "stl", "obj", "amf")

_PARSERS: dict[FileKind, Callable[[Path], FileMetadata]] = {
    "3mf": parse_3mf,
    "gcode": parse_gcode,
    "bgcode": parse_bgcode,
    "stl": parse_stl,
    "obj": parse_obj,
    "amf": parse_amf,
}

_MIME_TYPES: dict[FileKind, str] = {
    "3mf": "application/vnd.ms-package.3dmanufacturing-3dmodel+xml",
    "gcode": "text/x.gcode",
    "bgcode": "application/x-bgcode",
    "stl": "model/stl",
    "obj": "model/obj",
    "amf": "application/x-amf",
}


def file_kind(filename: str) -> FileKind | None:
    """The kind named by the extension ('part.gcode.3mf' -> '3mf'), or None."""
    _, dot, extension = filename.rpartition(".")
    extension = extension.lower()
    if not dot or extension not in _PARSERS:
        return None
    return extension  # type: ignore[return-value]


#: every content type :func:`content_type_for` answers with
PRINT_FILE_TYPES = (*dict.fromkeys(_MIME_TYPES.values()), "application/octet-stream")


def content_type_for(filename: str) -> str:
    """A content type derived from the extension (application/octet-stream if unknown)."""
    kind = file_kind(filename)
    return _MIME_TYPES[kind] if kind else "application/octet-stream"


#: the largest integer every column and client holds
MAX_INT = 2**31 - 1


def _in_range(meta: FileMetadata) -> FileMetadata:
    """Refuse integers no column or client can hold (a hostile file's huge numbers)."""
    for name in meta.__dataclass_fields__:
        value = getattr(meta, name)
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
            raise MetadataError(f"{name} is out of range ({str(value)[:30]})")
        if isinstance(value, float) and (value != value or abs(value) > 1e15):
            raise MetadataError(f"{name} is out of range")
    return meta


def parse_metadata(path: Path, filename: str) -> FileMetadata:
    """Metadata of the file at ``path``; ``filename`` (the user's name) picks the parser.

    Raises MetadataError for an unsupported extension or a malformed/truncated
    file. Blocking (file I/O): call it in a thread from async code.
    """
    kind = file_kind(filename)
    if kind is None:
        supported = ", ".join(f".{ext}" for ext in SUPPORTED_EXTENSIONS)
        raise MetadataError(f"unsupported file type '{filename}': expected {supported}")
    try:
        return _in_range(_PARSERS[kind](path))
    except MetadataError:
        raise
    except (OSError, UnicodeError, ValueError, LookupError, OverflowError, RecursionError) as err:
        # never let a hostile file escape as an unexpected exception type
        raise MetadataError(f"could not read {kind} file '{filename}': {err}") from err
