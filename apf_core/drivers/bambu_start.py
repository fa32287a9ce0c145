"""Per-job start settings for Bambu ``project_file``: plate, AMS use and the tray mapping.

The plate comes from the job or the file (the one sliced plate); the mapping gives, per
filament of the plate (``slice_info.config`` ``<filament id=...>``, 1-based), the tray to use:
``ams_mapping[id - 1]``, ``-1`` for filaments the plate does not use. A filament no loaded
tray can supply is refused before the upload (``AMS_MAPPING_UNSATISFIABLE``): the printer
would pause and never start.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET  # expat >= 2.4 refuses entity bombs
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..files.threemf_parts import local_name
from .bambu_report import EXTERNAL_SPOOL, HT_FIRST_UNIT, SECOND_EXTERNAL_SPOOL
from .base import DriverError, StartOptions, Tray

UNSATISFIABLE = "AMS_MAPPING_UNSATISFIABLE"
MAX_SLICE_INFO_BYTES = 4 << 20
_PLATE_GCODE = re.compile(r"^Metadata/plate_(\d+)\.gcode$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class FileFilament:
    id: int  # 1-based, as in slice_info.config
    type: str | None
    color: str | None  # "#RRGGBB"


@dataclass(frozen=True, slots=True)
class ProjectStart:
    """What ``project_file`` needs beyond the URL."""

    plate: int
    use_ams: bool
    ams_mapping: list[int]
    ams_mapping2: list[dict[str, int]]
    task_id: str


def start_defaults(options: Mapping[str, Any]) -> StartOptions:
    """The connection's ``plate`` / ``use_ams`` / ``ams_mapping``: for jobs that do not say."""
    plate, mapping = options.get("plate"), options.get("ams_mapping")
    return StartOptions(
        plate=int(plate) if plate else None,
        use_ams=bool(options["use_ams"]) if "use_ams" in options else None,
        ams_mapping=tuple(int(t) for t in mapping) if mapping else None,
    )


def with_defaults(options: StartOptions, defaults: StartOptions) -> StartOptions:
    """The job's start options, each unset one taken from the connection's defaults."""
    return StartOptions(
        plate=options.plate or defaults.plate,
        use_ams=options.use_ams if options.use_ams is not None else defaults.use_ams,
        ams_mapping=options.ams_mapping or defaults.ams_mapping,
        task_id=options.task_id,
    )


def read_plate(path: Path, plate: int | None) -> tuple[int, list[FileFilament]]:
    """The plate to print and its filaments; refuses a plate the file has no G-code for."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            sliced = sorted(int(m[1]) for n in names if (m := _PLATE_GCODE.match(n)))
            if not sliced:
                raise DriverError("the 3MF has no sliced plate", code="INVALID_FILE")
            chosen = plate if plate is not None else sliced[0]
            if chosen not in sliced:
                raise DriverError(
                    f"the 3MF has no sliced plate {chosen} (sliced: {sliced})", code="INVALID_PLATE"
                )
            info = _read_entry(archive, "Metadata/slice_info.config")
    except (zipfile.BadZipFile, OSError) as err:
        raise DriverError(f"cannot read the 3MF: {err}", code="INVALID_FILE") from err
    return chosen, _plate_filaments(info, chosen)


def _read_entry(archive: zipfile.ZipFile, name: str) -> bytes | None:
    try:
        entry = archive.getinfo(name)
    except KeyError:
        return None
    if entry.file_size > MAX_SLICE_INFO_BYTES:
        return None
    return archive.read(entry)


def _plate_filaments(info: bytes | None, plate: int) -> list[FileFilament]:
    if not info:
        return []
    try:
        root = ET.fromstring(info)  # noqa: S314 - expat >= 2.4 refuses entity bombs
    except ET.ParseError:
        return []
    for element in root:
        if local_name(element.tag) != "plate":
            continue
        meta = {m.get("key"): m.get("value") for m in element if local_name(m.tag) == "metadata"}
        if str(meta.get("index", "1")) != str(plate):
            continue
        return [
            FileFilament(int(f.get("id") or 0), _clean(f.get("type")), _color(f.get("color")))
            for f in element
            if local_name(f.tag) == "filament" and (f.get("id") or "").isdigit()
        ]
    return []


def _clean(value: str | None) -> str | None:
    return (value or "").strip().upper() or None


def _color(value: str | None) -> str | None:
    text = (value or "").strip().lstrip("#")
    return f"#{text[:6].upper()}" if len(text) >= 6 else None


def _distance(a: str | None, b: str | None) -> int:
    if a is None or b is None:
        return 3 * 255
    return sum(abs(int(a[i : i + 2], 16) - int(b[i : i + 2], 16)) for i in (1, 3, 5))


def choose_tray(filament: FileFilament, trays: Sequence[Tray]) -> Tray | None:
    """The loaded tray of the same type with the closest colour, or None."""
    same_type = [
        t
        for t in trays
        if t.filament_type and (filament.type is None or t.filament_type.upper() == filament.type)
    ]
    if not same_type:
        return None
    return min(same_type, key=lambda t: (_distance(filament.color, t.color_hex), t.tray_id))


def _mapping2(tray: int) -> dict[str, int]:
    """H2D's ``ams_mapping2`` entry for a tray number."""
    if tray < 0:
        return {"ams_id": 255, "slot_id": 255}
    if tray in (EXTERNAL_SPOOL, SECOND_EXTERNAL_SPOOL):
        return {"ams_id": tray, "slot_id": 0}
    if tray >= HT_FIRST_UNIT:
        return {"ams_id": tray, "slot_id": 0}
    return {"ams_id": tray // 4, "slot_id": tray % 4}


def plan_start(
    filaments: Sequence[FileFilament],
    trays: Sequence[Tray],
    has_ams: bool,
    options: StartOptions,
    plate: int,
) -> ProjectStart:
    """Derive (or check) ``use_ams`` and the mapping; raises ``AMS_MAPPING_UNSATISFIABLE``."""
    task_id = options.task_id or str(uuid.uuid4().int % 10**9)
    if options.ams_mapping is not None:
        mapping = [int(t) for t in options.ams_mapping]
        use_ams = options.use_ams if options.use_ams is not None else has_ams
        if use_ams and not has_ams:
            raise DriverError("the printer has no AMS but the job asks for one", code=UNSATISFIABLE)
        return ProjectStart(plate, use_ams, mapping, [_mapping2(t) for t in mapping], task_id)
    use_ams = has_ams if options.use_ams is None else options.use_ams
    if use_ams and not has_ams:
        raise DriverError("the printer has no AMS but the job asks for one", code=UNSATISFIABLE)
    candidates = [
        t for t in trays if use_ams or t.tray_id in (EXTERNAL_SPOOL, SECOND_EXTERNAL_SPOOL)
    ]
    if not filaments:
        return ProjectStart(plate, use_ams, [], [], task_id)
    if not use_ams and len(filaments) > 1:
        raise DriverError(
            f"the plate uses {len(filaments)} filaments but the printer has no AMS",
            code=UNSATISFIABLE,
        )
    mapping = [-1] * max(f.id for f in filaments)
    for filament in filaments:
        tray = choose_tray(filament, candidates)
        if tray is None and not use_ams and not any(t.filament_type for t in candidates):
            mapping[filament.id - 1] = EXTERNAL_SPOOL  # an unknown external spool: trust it
            continue
        if tray is None:
            raise DriverError(
                f"no loaded tray holds {filament.type or 'filament'} {filament.color or ''} "
                f"for filament {filament.id} of plate {plate}".replace("  ", " "),
                code=UNSATISFIABLE,
            )
        mapping[filament.id - 1] = tray.tray_id
    return ProjectStart(plate, use_ams, mapping, [_mapping2(t) for t in mapping], task_id)


def project_fields(start: ProjectStart) -> dict[str, Any]:
    return {
        "param": f"Metadata/plate_{start.plate}.gcode",
        "use_ams": start.use_ams,
        "ams_mapping": start.ams_mapping,
        "ams_mapping2": start.ams_mapping2,
        "task_id": start.task_id,
        "subtask_id": start.task_id,
    }
