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
from typing import IO, Any, Protocol
from xml.parsers import expat

from .model import MetadataError
from .values import parse_float, parse_int

MAX_CONFIG_BYTES = 4 << 20
#: elements in one config XML (real ones hold a few thousand); bounds the tree's memory
MAX_CONFIG_ELEMENTS = 100_000
#: one entry may inflate to at most this, whatever its ratio
MAX_ENTRY_BYTES = 1 << 30
XML_CHUNK_BYTES = 64 << 10
MAX_XML_TOKEN_BYTES = 4 << 20
#: real 3MF/AMF documents nest fewer than 10 levels
MAX_XML_DEPTH = 256
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
        if info.file_size > MAX_ENTRY_BYTES:
            raise MetadataError(
                f"{label} entry {info.filename} inflates to {info.file_size} bytes "
                f"(over {MAX_ENTRY_BYTES}): refused"
            )
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
    """Parse a (size-capped) config entry, refusing more than MAX_CONFIG_ELEMENTS elements."""
    parser: ET.XMLPullParser[Any] = ET.XMLPullParser(events=("start",))
    root: ET.Element | None = None
    count = 0
    try:
        for offset in range(0, len(data), XML_CHUNK_BYTES):
            parser.feed(data[offset : offset + XML_CHUNK_BYTES])
            for event in parser.read_events():
                element: Any = event[1]  # type: ignore[misc]  # ("start", Element)
                if root is None:
                    root = element
                count += 1
            if count > MAX_CONFIG_ELEMENTS:
                raise MetadataError(
                    f"3MF entry {entry} has over {MAX_CONFIG_ELEMENTS} XML elements"
                )
        parser.close()
    except ET.ParseError as err:
        raise MetadataError(f"3MF entry {entry} is not valid XML: {err}") from err
    if root is None:
        raise MetadataError(f"3MF entry {entry} is not valid XML: no element")
    return root


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

    Without ``count_objects`` the scan stops at ``<resources>``.
    """
    scanner = _ModelScanner(count_objects)
    stream_xml(stream, f"3MF entry {entry}", scanner)
    return scanner.scan


class XmlHandler(Protocol):
    done: bool

    def start(self, tag: str, attrs: dict[str, str], depth: int) -> None: ...

    def end(self, tag: str, depth: int) -> None: ...

    def text(self, data: str) -> None: ...


def stream_xml(stream: IO[bytes], label: str, handler: XmlHandler) -> None:
    """Run ``handler`` over an XML stream in bounded memory (MetadataError when hostile).

    No tree is built (expat callbacks only). Nesting deeper than ``MAX_XML_DEPTH``
    and a single tag longer than ``MAX_XML_TOKEN_BYTES`` (both of which expat
    would have to hold) are refused. Stops early once ``handler.done``.
    """
    parser = expat.ParserCreate(namespace_separator="}")
    depth = 0

    def start(tag: str, attrs: dict[str, str]) -> None:
        nonlocal depth
        depth += 1
        if depth > MAX_XML_DEPTH:
            raise MetadataError(f"{label} nests XML deeper than {MAX_XML_DEPTH} levels")
        handler.start(tag, attrs, depth)

    def end(tag: str) -> None:
        nonlocal depth
        handler.end(tag, depth)
        depth -= 1

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = handler.text
    fed = 0
    try:
        while not handler.done and (chunk := stream.read(XML_CHUNK_BYTES)):
            parser.Parse(chunk, False)
            fed += len(chunk)
            if fed - parser.CurrentByteIndex > MAX_XML_TOKEN_BYTES:
                raise MetadataError(f"{label} has an XML tag over {MAX_XML_TOKEN_BYTES} bytes")
        if not handler.done:
            parser.Parse(b"", True)
    except expat.ExpatError as err:
        raise MetadataError(f"{label} is not valid XML: {err}") from err


class _ModelScanner:
    def __init__(self, count_objects: bool) -> None:
        self.scan = ModelScan()
        self.count_objects = count_objects
        self.done = False
        self._application: list[str] | None = None  # collecting the application name

    def start(self, tag: str, attrs: dict[str, str], depth: int) -> None:
        name = local_name(tag)
        if name == "resources" and not self.count_objects:
            self.done = True
        elif name == "metadata" and depth == 2:
            if (attrs.get("name") or "").lower() == "application":
                self._application = []
        elif name == "object":
            self.scan.object_count += 1
        elif name == "item":
            self.scan.build_items += 1

    def end(self, tag: str, depth: int) -> None:
        if self._application is not None:
            self.scan.application = "".join(self._application).strip()[:200] or None
            self._application = None

    def text(self, data: str) -> None:
        if self._application is not None and sum(map(len, self._application)) < 1024:
            self._application.append(data)


def stream_chunks(
    archive: zipfile.ZipFile, entry: str, chunk_bytes: int, consume: Callable[[bytes], None]
) -> None:
    """Feed every chunk of ``entry`` to ``consume`` (verifies the zip CRC)."""
    with reading(entry), archive.open(entry) as stream:
        while chunk := stream.read(chunk_bytes):
            consume(chunk)
