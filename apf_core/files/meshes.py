"""Mesh files (STL, OBJ, AMF): no print metadata, only an object count.

Each reader checks that the file really is the format its name claims and
streams it, so a large mesh never sits in memory.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import IO

from . import gcode_text as text
from .model import FileMetadata, MetadataError
from .threemf_parts import ZIP_READ_ERRORS, check_expansion, local_name, stream_xml

_STL_HEADER = 80
_STL_TRIANGLE = 50


def parse_stl(path: Path) -> FileMetadata:
    """Binary STL (80-byte header, uint32 count, 50 bytes per triangle) or ASCII."""
    with path.open("rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        head = stream.read(text.SNIFF_BYTES)
        if not head:
            raise MetadataError("STL file is empty")
        if size >= _STL_HEADER + 4:
            triangles = int.from_bytes(head[_STL_HEADER : _STL_HEADER + 4], "little")
            expected = _STL_HEADER + 4 + triangles * _STL_TRIANGLE
            if expected == size or (triangles and expected < size and not _ascii_stl(head)):
                return FileMetadata(object_count=1)
        if not _ascii_stl(head):
            raise MetadataError(
                "STL file is neither binary STL (the triangle count does not match the size) "
                "nor ASCII STL"
            )
        text.check_text(head, "STL file", "ASCII STL")
        stream.seek(0)
        (solids,) = text.count_line_starts(stream, b"solid")
    return FileMetadata(object_count=max(solids, 1))


def _ascii_stl(head: bytes) -> bool:
    return head.lstrip().lower().startswith(b"solid") and (b"facet" in head or b"endsolid" in head)


def parse_obj(path: Path) -> FileMetadata:
    """Wavefront OBJ: ``o`` lines name objects; a file needs vertices."""
    with path.open("rb") as stream:
        text.check_text(stream.read(text.SNIFF_BYTES), "OBJ file", "a text OBJ file")
        stream.seek(0)
        objects, vertices = text.count_line_starts(stream, b"o ", b"v ")
    if not vertices:
        raise MetadataError("OBJ file holds no vertices")
    return FileMetadata(object_count=max(objects, 1))


def parse_amf(path: Path) -> FileMetadata:
    """AMF: XML with an ``<amf>`` root, optionally zip-compressed (one entry)."""
    with path.open("rb") as stream:
        magic = stream.read(4)
    if magic.startswith(b"PK"):
        return _zipped_amf(path)
    with path.open("rb") as stream:
        return FileMetadata(object_count=_count_amf_objects(stream, "AMF file"))


def _zipped_amf(path: Path) -> FileMetadata:
    try:
        with zipfile.ZipFile(path) as archive:
            check_expansion(archive, "compressed AMF file")
            names = [name for name in archive.namelist() if not name.endswith("/")]
            if not names:
                raise MetadataError("compressed AMF file holds no document")
            with archive.open(names[0]) as stream:
                count = _count_amf_objects(stream, f"AMF entry {names[0]}")
    except ZIP_READ_ERRORS as err:
        raise MetadataError(f"compressed AMF file is corrupt: {err}") from err
    return FileMetadata(object_count=count)


def _count_amf_objects(stream: IO[bytes], label: str) -> int:
    counter = _AmfCounter(label)
    stream_xml(stream, label, counter)
    return counter.objects


class _AmfCounter:
    """Counts the ``<object>`` children of the ``<amf>`` root."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.done = False
        self.objects = 0

    def start(self, tag: str, attrs: dict[str, str], depth: int) -> None:
        name = local_name(tag)
        if depth == 1 and name.lower() != "amf":
            raise MetadataError(f"{self.label} is not an AMF document (root <{name}>)")
        if depth == 2 and name == "object":
            self.objects += 1

    def end(self, tag: str, depth: int) -> None:
        return None

    def text(self, data: str) -> None:
        return None
