"""Metadata and thumbnails from Prusa binary G-code (``.bgcode``).

Layout (libbgcode ``doc/specifications.md``; all integers little-endian): a
10-byte file header (``GCDE``, version ``u32`` = 1, checksum type ``u16``:
0 none, 1 CRC32), then blocks. Each block is a header (type ``u16``,
compression ``u16``, uncompressed size ``u32``, and a compressed size ``u32``
only when compression is not 0), its parameters (2 bytes: encoding; 6 bytes
for thumbnails: format, width, height), its data and, with CRC32, 4 bytes of
checksum over header, parameters and data.

Block types: 0 file metadata, 1 G-code, 2 slicer metadata, 3 printer
metadata, 4 print metadata, 5 thumbnail. Metadata blocks are INI-encoded
``key=value`` lines. Every metadata and thumbnail block comes before the first
G-code block, so the parser stops there and never reads the G-code itself.
Compression 1 is deflate (zlib); heatshrink (2, 3) metadata is skipped.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from .gcode import analyse
from .model import FileMetadata, MetadataError
from .thumbnails import JPEG_SIGNATURE, PNG_SIGNATURE, QOI_SIGNATURE, Thumbnail, ThumbnailScan

MAGIC = b"GCDE"
FILE_HEADER = struct.Struct("<4sIH")
BLOCK_HEADER = struct.Struct("<HHI")
GCODE_BLOCK = 1
THUMBNAIL_BLOCK = 5
METADATA_BLOCKS = {0: "file", 2: "slicer", 3: "printer", 4: "print"}
#: the largest metadata or thumbnail block read (uncompressed); larger ones are refused
MAX_BLOCK_BYTES = 16 << 20
#: blocks read before the first G-code block (a hostile file cannot loop forever)
MAX_BLOCKS = 4096
_THUMBNAIL_FORMATS = {
    0: (PNG_SIGNATURE, "image/png", "thumbnail_PNG"),
    1: (JPEG_SIGNATURE, "image/jpeg", "thumbnail_JPG"),
    2: (QOI_SIGNATURE, None, "thumbnail_QOI"),
}


@dataclass(frozen=True, slots=True)
class Block:
    kind: int
    compression: int
    size: int  # uncompressed
    stored: int  # bytes of data in the file
    params: bytes
    header: bytes


def parse_bgcode(path: Path) -> FileMetadata:
    """Metadata of a binary G-code file from its metadata and thumbnail blocks."""
    with path.open("rb") as stream:
        crc = _file_header(stream)
        values: dict[str, dict[str, str]] = {}
        thumbnails: list[Thumbnail] = []
        for _ in range(MAX_BLOCKS):
            block = _block_header(stream)
            if block is None or block.kind == GCODE_BLOCK:
                break
            if block.kind not in METADATA_BLOCKS and block.kind != THUMBNAIL_BLOCK:
                raise MetadataError(f"binary G-code has an unknown block type {block.kind}")
            data = _block_data(stream, block, crc)
            if block.kind == THUMBNAIL_BLOCK:
                thumbnails.append(_thumbnail(block, data))
            elif data is not None:
                values[METADATA_BLOCKS[block.kind]] = _ini(data)
    return _metadata(values, thumbnails)


def _file_header(stream: BinaryIO) -> bool:
    raw = stream.read(FILE_HEADER.size)
    if len(raw) < FILE_HEADER.size or not raw.startswith(MAGIC):
        raise MetadataError("not a binary G-code file (no GCDE header)")
    _magic, version, checksum = FILE_HEADER.unpack(raw)
    if version != 1:
        raise MetadataError(f"binary G-code version {version} is not supported (expected 1)")
    if checksum not in (0, 1):
        raise MetadataError(f"binary G-code names an unknown checksum type {checksum}")
    return bool(checksum == 1)


def _block_header(stream: BinaryIO) -> Block | None:
    raw = stream.read(BLOCK_HEADER.size)
    if not raw:
        return None
    if len(raw) < BLOCK_HEADER.size:
        raise MetadataError("binary G-code is truncated inside a block header")
    kind, compression, size = BLOCK_HEADER.unpack(raw)
    if compression > 3:
        raise MetadataError(f"binary G-code block uses an unknown compression {compression}")
    stored = size
    if compression:
        extra = stream.read(4)
        if len(extra) < 4:
            raise MetadataError("binary G-code is truncated inside a block header")
        raw += extra
        (stored,) = struct.unpack("<I", extra)
    params = stream.read(6 if kind == THUMBNAIL_BLOCK else 2)
    if len(params) < (6 if kind == THUMBNAIL_BLOCK else 2):
        raise MetadataError("binary G-code is truncated inside block parameters")
    return Block(kind, compression, size, stored, params, raw)


def _block_data(stream: BinaryIO, block: Block, crc: bool) -> bytes | None:
    """The block's uncompressed data (None for heatshrink metadata, which is skipped)."""
    if block.size > MAX_BLOCK_BYTES or block.stored > MAX_BLOCK_BYTES:
        raise MetadataError(f"binary G-code block of {block.size} bytes is too large")
    data = stream.read(block.stored)
    if len(data) < block.stored:
        raise MetadataError("binary G-code is truncated inside a block")
    if crc:
        (expected,) = struct.unpack("<I", stream.read(4).ljust(4, b"\0"))
        if zlib.crc32(block.header + block.params + data) != expected:
            raise MetadataError("binary G-code block checksum does not match (corrupt file)")
    if block.compression == 0:
        return data
    if block.compression == 1:
        inflater = zlib.decompressobj()
        try:
            plain = inflater.decompress(data, block.size)
        except zlib.error as err:
            raise MetadataError(f"binary G-code block does not inflate: {err}") from None
        if len(plain) != block.size or inflater.unconsumed_tail:
            raise MetadataError("binary G-code block inflates to another size than declared")
        return plain
    if block.kind == THUMBNAIL_BLOCK:
        raise MetadataError("binary G-code thumbnail uses heatshrink compression")
    return None


def _thumbnail(block: Block, data: bytes | None) -> Thumbnail:
    image_format, width, height = struct.unpack("<HHH", block.params)
    if image_format not in _THUMBNAIL_FORMATS or data is None:
        raise MetadataError(f"binary G-code thumbnail has an unknown format {image_format}")
    signature, mime, tag = _THUMBNAIL_FORMATS[image_format]
    if not data.startswith(signature):
        raise MetadataError("binary G-code thumbnail does not hold the image type it names")
    return Thumbnail(tag=tag, width=width, height=height, data=data, mime=mime)


def _ini(data: bytes) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in data.decode("utf-8", errors="replace").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip():
            values.setdefault(key.strip(), value.strip())
    return values


def _metadata(values: dict[str, dict[str, str]], thumbnails: list[Thumbnail]) -> FileMetadata:
    """Reuse the text G-code analysis: the keys are the ones PrusaSlicer writes as comments."""
    lines = [
        f"; {key} = {value}"
        for group in ("print", "printer", "slicer", "file")
        for key, value in values.get(group, {}).items()
    ]
    meta, _marker = analyse(lines, [], ThumbnailScan(thumbnails))
    producer = values.get("file", {}).get("Producer", "").strip()
    if producer:
        name, _, version = producer.rpartition(" ")
        if not name or not version[:1].isdigit():
            name, version = producer, ""
        meta = replace(meta, slicer=name[:100], slicer_version=version[:50] or None)
    return meta


__all__ = ["parse_bgcode"]
