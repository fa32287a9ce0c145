"""Metadata from 3MF archives: Bambu Studio / OrcaSlicer ``*.gcode.3mf``
projects with sliced plates, and plain 3MF models."""

from __future__ import annotations

import hashlib
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from . import gcode_text as text
from . import threemf_parts as parts
from .gcode import analyse, identify, layer_marker
from .model import PNG_MIME, FileMetadata, MetadataError
from .thumbnails import ThumbnailScan, image_mime, scan_thumbnails
from .values import distinct, first_number, join_types, parse_duration, rounded, split_list

MODEL_ENTRY = "3D/3dmodel.model"
_PLATE_GCODE = re.compile(r"^metadata/plate_(\d+)\.gcode$")
_APPLICATION = re.compile(r"^(.+?)[- ]v?(\d[\w.+-]*)$")


@dataclass(frozen=True, slots=True)
class _Image:
    data: bytes
    mime: str


MAX_PLATE = 9999


def _plate_number(digits: str, entry: str) -> int:
    if len(digits) > 4 or int(digits) > MAX_PLATE:
        raise MetadataError(f"3MF entry {entry}: plate number over {MAX_PLATE}")
    return int(digits)


def sliced_plates(path: Path) -> list[int]:
    """The plates a 3MF has sliced G-code for, in order (empty for a model-only 3MF)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as err:
        raise MetadataError(f"3MF file is not a valid zip archive: {err}") from err
    return sorted(
        _plate_number(match.group(1), name)
        for name in names
        if (match := _PLATE_GCODE.match(name.lower()))
    )


def parse_3mf(path: Path) -> FileMetadata:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as err:
        raise MetadataError(f"3MF file is not a valid zip archive: {err}") from err
    with archive:
        parts.check_expansion(archive, "3MF file")
        return _Project(archive).metadata()


class _Project:
    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        self.entries = {name.lower(): name for name in archive.namelist()}
        self.plate_gcodes = {
            _plate_number(match.group(1), name): name
            for lower, name in self.entries.items()
            if (match := _PLATE_GCODE.match(lower))
        }

    def entry(self, name: str) -> str | None:
        return self.entries.get(name.lower())

    def metadata(self) -> FileMetadata:  # shape: a table of per-field source precedence
        model_entry = self.entry(MODEL_ENTRY)
        if not self.plate_gcodes and model_entry is None:
            raise MetadataError(
                f"3MF archive has neither {MODEL_ENTRY} nor a sliced Metadata/plate_<n>.gcode"
            )
        slice_info = self._slice_info()
        plate = self._choose_plate(slice_info)
        index = plate.index if plate and plate.index is not None else self._first_gcode_plate()
        gcode_entry = self.plate_gcodes.get(index) if index is not None else None
        gcode = self._gcode_metadata(gcode_entry) if gcode_entry else FileMetadata()
        project = self._json("Metadata/project_settings.config")
        plate_json = self._json(f"Metadata/plate_{index or 1}.json")
        settings = self._model_settings().get(index or 1, {})

        filaments = plate.filaments if plate else []
        plate_meta = plate.metadata if plate else {}
        types = distinct(f.type for f in filaments if f.type) or gcode.filament_types
        if not types and gcode_entry is None:
            types = distinct(_strings(project.get("filament_type")))
        object_count = plate.object_count if plate and plate.object_count else None
        model = None
        if model_entry and (object_count is None or gcode.slicer is None):
            model = self._scan_model(model_entry, count_objects=object_count is None)
            if object_count is None:
                object_count = model.build_items or model.object_count or None
        slicer, version = _slicer(gcode, model, slice_info)
        printer_model = _string(project.get("printer_model")) or gcode.printer_model
        thumbnail = self._thumbnail(index or 1, settings) or _gcode_thumbnail(gcode)

        return FileMetadata(
            print_time_seconds=_first(
                parse_duration(plate_meta.get("prediction")), gcode.print_time_seconds
            ),
            filament_weight_grams=rounded(
                _first(
                    first_number(plate_meta.get("weight")),
                    _total(f.used_g for f in filaments),
                    gcode.filament_weight_grams,
                )
            ),
            filament_length_meters=rounded(
                _first(_total(f.used_m for f in filaments), gcode.filament_length_meters), 5
            ),
            filament_type=join_types(types),
            printer_model_id=_string(plate_meta.get("printer_model_id"))
            or printer_model
            or gcode.printer_model_id,
            nozzle_diameter=_first(
                first_number(plate_meta.get("nozzle_diameters")),
                first_number(_string(plate_json.get("nozzle_diameter"))),
                first_number(",".join(_strings(project.get("nozzle_diameter")))),
                gcode.nozzle_diameter,
            ),
            layer_count=gcode.layer_count,
            curr_bed_type=_string(settings.get("curr_bed_type"))
            or _string(project.get("curr_bed_type"))
            or _string(plate_json.get("bed_type"))
            or gcode.curr_bed_type,
            default_print_profile=_string(project.get("default_print_profile"))
            or _string(project.get("print_settings_id"))
            or gcode.default_print_profile,
            object_count=_first(object_count, gcode.object_count),
            slicer=slicer,
            thumbnail=thumbnail.data if thumbnail else None,
            thumbnail_mime=thumbnail.mime if thumbnail else None,
            slicer_version=version,
            printer_model=printer_model,
            layer_height=_first(
                first_number(",".join(_strings(project.get("layer_height")))), gcode.layer_height
            ),
            filament_types=types,
            plate_index=index if gcode_entry else None,
            gcode_entry=gcode_entry,
        )

    # -- entries -----------------------------------------------------------------------

    def _slice_info(self) -> parts.SliceInfo:
        entry = self.entry("Metadata/slice_info.config")
        if entry is None:
            return parts.SliceInfo()
        return parts.read_slice_info(parts.parse_xml(parts.read_entry(self.archive, entry), entry))

    def _model_settings(self) -> dict[int, dict[str, str]]:
        entry = self.entry("Metadata/model_settings.config")
        if entry is None:
            return {}
        root = parts.parse_xml(parts.read_entry(self.archive, entry), entry)
        return parts.read_model_settings_plates(root)

    def _json(self, name: str) -> dict[str, Any]:
        entry = self.entry(name)
        if entry is None:
            return {}
        return parts.parse_json(parts.read_entry(self.archive, entry), entry)

    def _choose_plate(self, info: parts.SliceInfo) -> parts.SlicedPlate | None:
        """The first sliced plate whose G-code is in the archive."""
        for plate in info.plates:
            if plate.index in self.plate_gcodes:
                return plate
        if not self.plate_gcodes and info.plates:
            return info.plates[0]
        return None

    def _first_gcode_plate(self) -> int | None:
        return min(self.plate_gcodes) if self.plate_gcodes else None

    def _scan_model(self, entry: str, *, count_objects: bool) -> parts.ModelScan:
        with parts.reading(entry), self.archive.open(entry) as stream:
            return parts.scan_model(stream, entry, count_objects=count_objects)

    def _gcode_metadata(self, entry: str) -> FileMetadata:
        """Analyse the plate G-code's head and tail windows while streaming it
        once: the stream also checks the MD5 and counts layers for headers
        without a total."""
        label = f"3MF entry {entry}"
        digest = hashlib.md5(usedforsecurity=False)
        with parts.reading(entry), self.archive.open(entry) as stream:
            head = stream.read(text.HEAD_BYTES)
            text.check_text(head, label)
            text.require_gcode(head, label)
            digest.update(head)
            complete = len(head) < text.HEAD_BYTES
            lines = text.head_lines(head, complete=complete)
            scan = _thumbnails(lines, complete=complete)
            counter = _MarkerCounter(layer_marker(identify(lines)), head)
            tail = text.TailWindow(head[text.head_end(head, complete=complete) :])
            while chunk := stream.read(text.CHUNK_BYTES):
                digest.update(chunk)
                counter.feed(chunk)
                tail.feed(chunk)
        self._check_md5(entry, digest.hexdigest())
        meta, _ = analyse(lines, tail.lines(), scan)
        if meta.layer_count is None and counter.total:
            meta = replace(meta, layer_count=counter.total)
        return meta

    def _check_md5(self, entry: str, actual: str) -> None:
        md5_entry = self.entry(f"{entry}.md5")
        if md5_entry is None:
            return
        expected = parts.read_entry(self.archive, md5_entry, limit=1024).decode(
            "ascii", errors="replace"
        )
        expected = expected.strip().lower()
        if expected and expected != actual:
            raise MetadataError(f"3MF entry {entry} does not match its MD5 ({md5_entry})")

    def _thumbnail(self, index: int, settings: dict[str, str]) -> _Image | None:
        candidates = [
            settings.get("thumbnail_file", ""),
            f"Metadata/plate_{index}.png",
            "Metadata/thumbnail.png",
        ]
        for candidate in candidates:
            entry = self.entry(candidate.lstrip("/")) if candidate else None
            if entry is None:
                continue
            data = parts.read_entry(self.archive, entry, limit=parts.MAX_IMAGE_BYTES)
            mime = image_mime(data)
            if mime is not None:
                return _Image(data, mime)
        return None


class _MarkerCounter:
    """Counts line-start markers across chunks (the head is already read)."""

    def __init__(self, marker: bytes | None, head: bytes) -> None:
        self.needle = b"\n" + marker if marker else None
        self.total = 0
        self.carry = b""
        if self.needle is not None:
            self.feed(b"\n" + head, first=True)

    def feed(self, chunk: bytes, *, first: bool = False) -> None:
        if self.needle is None:
            return
        window = chunk if first else self.carry + chunk
        self.total += window.count(self.needle)
        self.carry = window[-(len(self.needle) - 1) :]


def _thumbnails(lines: list[str], *, complete: bool) -> ThumbnailScan:
    scan = scan_thumbnails(lines)
    if complete:
        scan.require_complete()
    return ThumbnailScan(scan.thumbnails)


def _gcode_thumbnail(meta: FileMetadata) -> _Image | None:
    if meta.thumbnail is None:
        return None
    return _Image(meta.thumbnail, meta.thumbnail_mime or PNG_MIME)


def _slicer(
    gcode: FileMetadata, model: parts.ModelScan | None, info: parts.SliceInfo
) -> tuple[str | None, str | None]:
    if gcode.slicer:
        return gcode.slicer, gcode.slicer_version
    if model and model.application:
        match = _APPLICATION.match(model.application)
        return (match.group(1), match.group(2)) if match else (model.application, None)
    if info.client.get("X-BBL-Client-Type") == "slicer":
        return "BambuStudio", info.client.get("X-BBL-Client-Version") or None
    return None, None


def _string(value: object) -> str | None:
    """A config value as one string: lists give their first item."""
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None:
        return None
    text_value = str(value).strip()
    return text_value or None


def _strings(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(item) for item in value if str(item).strip()]
    return split_list(str(value)) if value is not None else []


def _first[T](*values: T | None) -> T | None:
    for value in values:
        if value is not None:
            return value
    return None


def _total(values: Iterable[float | None]) -> float | None:
    numbers = [value for value in values if value is not None]
    return sum(numbers) if numbers else None
