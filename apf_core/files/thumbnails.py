"""Base64 thumbnail blocks embedded in G-code comments, and image sniffing.

Block format (PrusaSlicer ``Thumbnails.hpp``, also Bambu/Orca and Cura's
CreateThumbnail script)::

    ; thumbnail begin 300x300 12345    (tag: thumbnail, thumbnail_PNG, _JPG or _QOI)
    ; iVBORw0KGgo...                     (78 base64 characters per line)
    ; thumbnail end

12345 is the base64 length; a different count means the block is truncated.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .model import JPEG_MIME, PNG_MIME, MetadataError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"
QOI_SIGNATURE = b"qoif"

_BEGIN = re.compile(r"^;\s*(thumbnail(?:_[A-Za-z0-9]+)?)\s+begin\s+(\d+)x(\d+)\s+(\d+)\s*$")
_END = re.compile(r"^;\s*(thumbnail(?:_[A-Za-z0-9]+)?)\s+end\s*$")

#: tag -> (expected signature, mime served to clients or None when not servable)
_FORMATS: dict[str, tuple[bytes, str | None]] = {
    "thumbnail": (PNG_SIGNATURE, PNG_MIME),
    "thumbnail_png": (PNG_SIGNATURE, PNG_MIME),
    "thumbnail_jpg": (JPEG_SIGNATURE, JPEG_MIME),
    "thumbnail_qoi": (QOI_SIGNATURE, None),
}


@dataclass(frozen=True, slots=True)
class Thumbnail:
    tag: str
    width: int
    height: int
    data: bytes = field(repr=False)
    mime: str | None


@dataclass(frozen=True, slots=True)
class ThumbnailScan:
    thumbnails: list[Thumbnail]
    #: declared base64 length of a block whose end marker was not seen
    unterminated_length: int | None = None

    def require_complete(self) -> None:
        if self.unterminated_length is not None:
            raise MetadataError(
                "G-code thumbnail block is truncated: no 'thumbnail end' marker "
                f"(declared {self.unterminated_length} base64 characters)"
            )


def image_mime(data: bytes) -> str | None:
    """The mime type of PNG or JPEG bytes, else None."""
    if data.startswith(PNG_SIGNATURE):
        return PNG_MIME
    if data.startswith(JPEG_SIGNATURE):
        return JPEG_MIME
    return None


def scan_thumbnails(lines: Iterable[str]) -> ThumbnailScan:
    """Decode every thumbnail block in ``lines``.

    Raises MetadataError for a block whose base64 is corrupt, shorter or longer
    than declared, or whose image bytes do not match the tag.
    """
    found: list[Thumbnail] = []
    open_block: tuple[str, int, int, int] | None = None
    chunks: list[str] = []
    for line in lines:
        if open_block is None:
            begin = _BEGIN.match(line)
            if begin:
                tag, width, height, length = begin.groups()
                open_block = (tag, int(width), int(height), int(length))
                chunks = []
            continue
        end = _END.match(line)
        if end:
            if end.group(1) != open_block[0]:
                raise MetadataError(
                    f"G-code thumbnail block '{open_block[0]}' ends as '{end.group(1)}'"
                )
            found.append(_decode_block(open_block, "".join(chunks)))
            open_block = None
            continue
        if _BEGIN.match(line):
            raise MetadataError(f"G-code thumbnail block '{open_block[0]}' is not terminated")
        chunks.append(line.lstrip(";").strip())
    return ThumbnailScan(found, None if open_block is None else open_block[3])


def best_thumbnail(thumbnails: Iterable[Thumbnail]) -> Thumbnail | None:
    """The largest PNG, else the largest JPEG; QOI cannot be served."""
    servable = [thumb for thumb in thumbnails if thumb.mime is not None]
    if not servable:
        return None
    return max(servable, key=lambda t: (t.mime == PNG_MIME, t.width * t.height))


def _decode_block(header: tuple[str, int, int, int], encoded: str) -> Thumbnail:
    tag, width, height, declared = header
    label = f"G-code thumbnail {tag} {width}x{height}"
    if len(encoded) != declared:
        raise MetadataError(
            f"{label} is truncated: declared {declared} base64 characters, found {len(encoded)}"
        )
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as err:
        raise MetadataError(f"{label} is not valid base64: {err}") from err
    signature, mime = _FORMATS.get(tag.lower(), (b"", None))
    if signature and not data.startswith(signature):
        raise MetadataError(f"{label} does not hold the image type its tag names")
    return Thumbnail(tag=tag, width=width, height=height, data=data, mime=mime)
