"""Readers for the entries of a (Bambu / Orca) 3MF archive.

Layout: printer-protocols.md section 6. Every reader is bounded: config
entries are read up to a size cap, the 3D model is stream-parsed.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET  # expat >= 2.4 refuses entity bombs
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

from .model import MetadataError
from .values import parse_float, parse_int

MAX_CONFIG_BYTES = 32 << 20
MAX_IMAGE_BYTES = 16 << 20
#: zip-bomb guard: declared sizes bound what zipfile inflates, so refuse archives that
#: declare more than this in total, or a large entry packed far tighter than any real
#: G-code / model XML (those deflate 3-10x)
MAX_EXPANDED_BYTES = 2 << 30
MAX_RATIO = 200
RATIO_FLOOR = 16 << 20

#: errors zipfile/zlib raise for corrupt or truncated member data
ZIP_READ_ERRORS: tuple[type[Exception], ...] = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    NotImplementedError,
    RuntimeError,
    OSError,
)


@dataclass(slots=True)
class Filament:
    type: str | None
    used_m: float | None
    used_g: float | None


@dataclass(slots=True)
class SlicedPlate:
    """One ``<plate>`` of Metadata/slice_info.config."""

    index: int | None
    metadata: dict[str, str] = field(default_factory=dict)
    filaments: list[Filament] = field(default_factory=list)
    object_count: int = 0


@dataclass(slots=True)
class SliceInfo:
    client: dict[str, str] = field(default_factory=dict)
    plates: list[SlicedPlate] = field(default_factory=list)


@dataclass(slots=True)
class ModelScan:
    application: str | None = None
    object_count: int = 0
    build_items: int = 0


def check_expansion(archive: zipfile.ZipFile, label: str) -> None:
    """Refuse zip bombs before inflating anything (MetadataError)."""
    total = 0
    for info in archive.infolist():
        total += info.file_size
        ratio = info.file_size // max(info.compress_size, 1)
        if info.file_size > RATIO_FLOOR and ratio > MAX_RATIO:
            raise MetadataError(
                f"{label} entry {info.filename} expands {ratio}x (over {MAX_RATIO}x): "
                "refused as a zip bomb"
            )
    if total > MAX_EXPANDED_BYTES:
        raise MetadataError(
            f"{label} expands to {total} bytes (over {MAX_EXPANDED_BYTES}): refused as a zip bomb"
        )


@contextmanager
def reading(entry: str) -> Iterator[None]:
    """Turn zip/zlib read failures for ``entry`` into MetadataError."""
    try:
        yield
    except ZIP_READ_ERRORS as err:
        raise MetadataError(f"3MF entry {entry} is corrupt or truncated: {err}") from err


def read_entry(archive: zipfile.ZipFile, entry: str, limit: int = MAX_CONFIG_BYTES) -> bytes:
    info = archive.getinfo(entry)
    if info.file_size > limit:
        raise MetadataError(f"3MF entry {entry} is too large ({info.file_size} bytes)")
    with reading(entry), archive.open(info) as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise MetadataError(f"3MF entry {entry} is too large")
    return data


def parse_xml(data: bytes, entry: str) -> ET.Element:
    try:
        return ET.fromstring(data)  # noqa: S314 - see the import note
    except ET.ParseError as err:
        raise MetadataError(f"3MF entry {entry} is not valid XML: {err}") from err


def parse_json(data: bytes, entry: str) -> dict[str, Any]:
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        raise MetadataError(f"3MF entry {entry} is not valid JSON: {err}") from err
    if not isinstance(document, dict):
        raise MetadataError(f"3MF entry {entry} is not a JSON object")
    return document


def local_name(tag: str) -> str:
    """The tag without its XML namespace."""
    return tag.rsplit("}", 1)[-1]


def read_slice_info(root: ET.Element) -> SliceInfo:
    info = SliceInfo()
    for element in root:
        name = local_name(element.tag)
        if name == "header":
            info.client.update(_key_values(element, "header_item"))
        elif name == "plate":
            info.plates.append(_read_plate(element))
    return info


def _read_plate(element: ET.Element) -> SlicedPlate:
    metadata = _key_values(element, "metadata")
    plate = SlicedPlate(index=parse_int(metadata.get("index")), metadata=metadata)
    for child in element:
        name = local_name(child.tag)
        if name == "filament":
            plate.filaments.append(
                Filament(
                    type=(child.get("type") or "").strip() or None,
                    used_m=parse_float(child.get("used_m")),
                    used_g=parse_float(child.get("used_g")),
                )
            )
        elif name == "object":
            plate.object_count += 1
    return plate


def read_model_settings_plates(root: ET.Element) -> dict[int, dict[str, str]]:
    """Per-plate metadata of Metadata/model_settings.config, keyed by plater_id."""
    plates: dict[int, dict[str, str]] = {}
    for element in root:
        if local_name(element.tag) != "plate":
            continue
        metadata = _key_values(element, "metadata")
        plate_id = parse_int(metadata.get("plater_id"))
        if plate_id is not None:
            plates[plate_id] = metadata
    return plates


def _key_values(element: ET.Element, child_tag: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for child in element:
        if local_name(child.tag) == child_tag and child.get("key"):
            values[child.get("key", "")] = child.get("value", "")
    return values


def scan_model(stream: IO[bytes], entry: str, *, count_objects: bool) -> ModelScan:
    """Stream-parse the 3MF core model: application name and object counts.

    Elements are cleared as they close, so memory stays bounded for large meshes.
    Without ``count_objects`` the scan stops at ``<resources>``.
    """
    scan = ModelScan()
    parents: list[ET.Element] = []
    try:
        parser = ET.iterparse(stream, events=("start", "end"))  # noqa: S314
        for event, element in parser:
            name = local_name(element.tag)
            if event == "start":
                if name == "resources" and not count_objects:
                    break
                parents.append(element)
                continue
            parents.pop()
            if name == "metadata" and (element.get("name") or "").lower() == "application":
                scan.application = (element.text or "").strip() or None
            elif name == "object":
                scan.object_count += 1
            elif name == "item":
                scan.build_items += 1
            if parents and name not in ("metadata", "resources", "build"):
                parents[-1].clear()  # drop finished geometry: vertices, triangles, objects
    except ET.ParseError as err:
        raise MetadataError(f"3MF entry {entry} is not valid XML: {err}") from err
    return scan


def stream_chunks(
    archive: zipfile.ZipFile, entry: str, chunk_bytes: int, consume: Callable[[bytes], None]
) -> None:
    """Feed every chunk of ``entry`` to ``consume`` (verifies the zip CRC)."""
    with reading(entry), archive.open(entry) as stream:
        while chunk := stream.read(chunk_bytes):
            consume(chunk)
