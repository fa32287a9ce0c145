"""Reading Bambu Lab ``push_status`` reports: merging deltas and deriving the normalised state.

Pure functions, no I/O, so the real report shapes (ha-bambulab's mock reports, OpenBambuAPI)
can be fed straight in. The print state comes from ``gcode_state`` only; HMS entries and
``print_error`` become :class:`PrinterMessage` reasons attached to it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from .base import SPEED_LEVELS, PrinterMessage, Severity, Status, Tray

CANCELLED_ERROR = 0x0300400C  # "the print was cancelled by the user"
#: print errors that only echo a cancel: FAILED with one of them reads as cancelled
CANCEL_ERRORS = frozenset({CANCELLED_ERROR, 0x0500400E})
EXTERNAL_SPOOL = 254
SECOND_EXTERNAL_SPOOL = 255  # H2D's second external spool (vir_slot id 255)
NO_TRAY = 255  # in the legacy ``tray_now``: nothing loaded
HT_FIRST_UNIT = 128  # AMS HT units are numbered 128..135 and have one slot
GCODE_STATUS = {
    "IDLE": Status.IDLE,
    "PREPARE": Status.PREPARING,
    "SLICING": Status.PREPARING,
    "INIT": Status.PREPARING,
    "RUNNING": Status.PRINTING,
    "PAUSE": Status.PAUSED,
    "FINISH": Status.FINISHED,
    "FAILED": Status.ERROR,
    "OFFLINE": Status.OFFLINE,
    "UNKNOWN": Status.OFFLINE,
}
JOB_STATES = frozenset({"PREPARE", "SLICING", "INIT", "RUNNING", "PAUSE", "FINISH", "FAILED"})
TERMINAL_STATES = frozenset({"FINISH", "FAILED"})
HMS_SEVERITY = {1: Severity.FATAL, 2: Severity.SERIOUS, 3: Severity.COMMON, 4: Severity.INFO}
#: models without a chamber sensor: their ``chamber_temper`` is a placeholder (5)
NO_CHAMBER_SENSOR = ("P1P", "P1S", "A1", "A1MINI")
#: models that want ``ftp:///<name>`` as the print URL
FTP_URL_MODELS = ("H2C", "H2S", "H2D", "H2DPRO")
#: models with a second chamber light node
TWO_LIGHT_MODELS = ("H2C", "H2S", "H2D", "H2DPRO", "X2D")
#: ``product_name`` spellings that differ from the model's short name
MODEL_ALIASES = {"X1-CARBON": "X1C"}
HMS_URL = "https://e.bambulab.com/index.php?e={code}&s=device_hms&lang=en"
ERROR_URL = "https://e.bambulab.com/index.php?e={code}&s=device_error&lang=en"


def merge_report(target: dict[str, Any], delta: Mapping[str, Any]) -> dict[str, Any]:
    """Merge a report delta in place.

    Dicts merge recursively. Lists whose entries all carry an ``id`` (AMS units, their
    trays, ``vir_slot``, the H2D extruders) merge entry by entry, so a delta for AMS unit 1
    keeps unit 0. Other values (``hms``, scalars) are replaced.
    """
    for key, value in delta.items():
        current = target.get(key)
        if isinstance(value, Mapping):
            target[key] = merge_report(current if isinstance(current, dict) else {}, value)
        elif isinstance(current, list) and _id_list(value) and _id_list(current):
            target[key] = _merge_by_id(current, value)
        elif isinstance(value, list):
            target[key] = [merge_report({}, v) if isinstance(v, Mapping) else v for v in value]
        else:
            target[key] = value
    return target


deep_merge = merge_report  # the historical name


def _id_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, Mapping) and "id" in v for v in value)
    )


def _merge_by_id(current: list[Any], delta: list[Any]) -> list[Any]:
    merged = {str(entry["id"]): entry for entry in current}
    for entry in delta:
        key = str(entry["id"])
        merged[key] = merge_report(merged.get(key, {}), entry)
    return list(merged.values())


def hms_code(entry: Mapping[str, Any]) -> str:
    attr, code = int(entry.get("attr", 0)), int(entry.get("code", 0))
    return f"HMS_{attr >> 16:04X}_{attr & 0xFFFF:04X}_{code >> 16:04X}_{code & 0xFFFF:04X}"


def hms_severity(entry: Mapping[str, Any]) -> int:
    """1 fatal, 2 serious, 3 common, 4 info."""
    return int(entry.get("code", 0)) >> 16


def print_error_code(value: int) -> str:
    text = f"{value:08X}"
    return f"{text[:4]}_{text[4:]}"


def hms_message(entry: Mapping[str, Any]) -> PrinterMessage:
    code = hms_code(entry)
    severity = HMS_SEVERITY.get(hms_severity(entry), Severity.COMMON)
    plain = code.removeprefix("HMS_").replace("_", "")
    return PrinterMessage(
        code=code,
        severity=severity,
        text=f"HMS {code.removeprefix('HMS_')}: see the linked Bambu Lab page",
        url=HMS_URL.format(code=plain),
    )


def print_error_message(value: int) -> PrinterMessage:
    code = print_error_code(value)
    cancel = value in CANCEL_ERRORS
    return PrinterMessage(
        code=code,
        severity=Severity.INFO if cancel else Severity.SERIOUS,
        text="the print was cancelled" if cancel else f"print error {code}",
        url=ERROR_URL.format(code=code.replace("_", "")),
    )


def number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return float(value)
    return None


def integer(value: Any) -> int | None:
    found = number(value)
    return None if found is None else int(found)


def packed_temps(packed: Any) -> tuple[float | None, float | None]:
    """Newer firmware packs ``target << 16 | current`` into one int: (current, target)."""
    value = integer(packed)
    if value is None:
        return None, None
    return float(value & 0xFFFF), float(value >> 16)


def section(report: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = report.get(name)
    return value if isinstance(value, Mapping) else {}


def print_status(report: Mapping[str, Any]) -> tuple[Status, str | None, int | None]:
    """(status, error text, error code) from ``gcode_state`` and ``print_error`` only."""
    gcode_state = str(report.get("gcode_state", "UNKNOWN")).upper()
    status = GCODE_STATUS.get(gcode_state, Status.IDLE)
    print_error = integer(report.get("print_error")) or 0
    if gcode_state != "FAILED":
        return status, None, None
    if print_error in CANCEL_ERRORS:
        return Status.CANCELLED, None, None
    if print_error:
        return Status.ERROR, f"print error {print_error_code(print_error)}", print_error
    return Status.ERROR, "print failed", None


def messages(report: Mapping[str, Any]) -> tuple[PrinterMessage, ...]:
    """HMS entries plus a non-zero ``print_error``, most serious first."""
    found = [hms_message(e) for e in report.get("hms") or () if isinstance(e, Mapping)]
    print_error = integer(report.get("print_error")) or 0
    if print_error:
        found.append(print_error_message(print_error))
    order = list(Severity)
    return tuple(sorted(found, key=lambda m: order.index(m.severity)))


def temperatures(report: Mapping[str, Any], model: str | None) -> dict[str, float | None]:
    """Nozzle, bed and chamber readings from either the flat or the packed ``device`` form."""
    device = section(report, "device")
    nozzle, nozzle_target = number(report.get("nozzle_temper")), None
    nozzle_target = number(report.get("nozzle_target_temper"))
    if nozzle is None:
        extruder = _active_extruder(device)
        nozzle, nozzle_target = packed_temps(extruder.get("temp"))
    bed, bed_target = number(report.get("bed_temper")), number(report.get("bed_target_temper"))
    if bed is None:
        bed, bed_target = packed_temps(_info(device, "bed").get("temp"))
    chamber, chamber_target = packed_temps(_info(device, "ctc").get("temp"))
    if chamber is None and model not in NO_CHAMBER_SENSOR:
        chamber = number(report.get("chamber_temper"))
    return {
        "nozzle_temp": nozzle,
        "nozzle_target": nozzle_target,
        "bed_temp": bed,
        "bed_target": bed_target,
        "chamber_temp": chamber,
        "chamber_target": chamber_target or None,
    }


def _info(device: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    part = device.get(name)
    info = part.get("info") if isinstance(part, Mapping) else None
    return info if isinstance(info, Mapping) else {}


def _active_extruder(device: Mapping[str, Any]) -> Mapping[str, Any]:
    """The extruder in use: ``device.extruder.state`` bits 4-7 name it (H2D)."""
    extruder = device.get("extruder")
    if not isinstance(extruder, Mapping):
        return {}
    entries = [e for e in extruder.get("info") or () if isinstance(e, Mapping)]
    active = ((integer(extruder.get("state")) or 0) >> 4) & 0xF
    for entry in entries:
        if integer(entry.get("id")) == active:
            return entry
    return entries[0] if entries else {}


def tray_id(unit: int, slot: int) -> int:
    """APF's tray number: ``unit * 4 + slot`` for AMS/AMS lite, the unit id for AMS HT."""
    return unit if unit >= HT_FIRST_UNIT else unit * 4 + slot


def _tray(tray: int, data: Mapping[str, Any], unit: int | None, slot: int | None) -> Tray:
    color = data.get("tray_color")
    remain = number(data.get("remain"))
    return Tray(
        tray_id=tray,
        filament_type=str(data["tray_type"]) if data.get("tray_type") else None,
        color_hex=f"#{color[:6].upper()}" if isinstance(color, str) and len(color) >= 6 else None,
        remaining_percent=remain if remain is not None and remain >= 0 else None,
        unit=unit,
        slot=slot,
    )


def trays(report: Mapping[str, Any]) -> tuple[Tray, ...]:
    found: list[Tray] = []
    for unit in section(report, "ams").get("ams") or ():
        unit_id = integer(unit.get("id")) if isinstance(unit, Mapping) else None
        if unit_id is None:
            continue
        for slot in unit.get("tray") or ():
            slot_id = integer(slot.get("id")) if isinstance(slot, Mapping) else None
            if slot_id is not None:
                found.append(_tray(tray_id(unit_id, slot_id), slot, unit_id, slot_id))
    externals = [v for v in report.get("vir_slot") or () if isinstance(v, Mapping)]
    if not externals and isinstance(report.get("vt_tray"), Mapping):
        externals = [report["vt_tray"]]
    for external in externals:
        spool = integer(external.get("id"))
        spool = spool if spool in (EXTERNAL_SPOOL, SECOND_EXTERNAL_SPOOL) else EXTERNAL_SPOOL
        found.append(_tray(spool, external, None, None))
    return tuple(sorted(found, key=lambda t: t.tray_id))


def has_ams(report: Mapping[str, Any]) -> bool:
    return any(isinstance(u, Mapping) for u in section(report, "ams").get("ams") or ())


def active_tray(report: Mapping[str, Any]) -> int | None:
    """The loaded tray: ``snow`` of the active extruder (H2D), else the legacy ``tray_now``."""
    extruder = _active_extruder(section(report, "device"))
    snow = integer(extruder.get("snow"))
    if snow is not None:
        unit, slot = snow >> 8, snow & 0xFF
        if snow == 0xFFFF or slot == 0xFF:
            return None
        if unit in (EXTERNAL_SPOOL, SECOND_EXTERNAL_SPOOL):
            return unit
        return tray_id(unit, slot & 0x3)
    tray_now = integer(section(report, "ams").get("tray_now"))
    if tray_now is None or tray_now == NO_TRAY:
        return None
    return tray_now


def light_state(report: Mapping[str, Any]) -> bool | None:
    modes = {
        light.get("node"): str(light.get("mode"))
        for light in report.get("lights_report") or ()
        if isinstance(light, Mapping)
    }
    found = [modes[n] for n in ("chamber_light", "chamber_light2") if n in modes]
    if not found:
        return None
    return any(mode in ("on", "flashing") for mode in found)


def sd_card_missing(report: Mapping[str, Any]) -> bool:
    """True only when the printer says so (``sdcard`` false, or ``home_flag`` bit 8 clear)."""
    if report.get("sdcard") is False:
        return True
    home_flag = integer(report.get("home_flag"))
    return home_flag is not None and home_flag != 0 and not home_flag & 0x100


def model_name(version: Mapping[str, Any]) -> str | None:
    """The model from ``get_version`` (``Bambu Lab H2D`` -> ``H2D``)."""
    for module in version.get("module") or ():
        if not isinstance(module, Mapping):
            continue
        name = str(module.get("product_name") or "")
        if name.startswith("Bambu Lab "):
            model = name.removeprefix("Bambu Lab ").replace(" ", "").upper()
            return MODEL_ALIASES.get(model, model)
    return None


def terminal_key(report: Mapping[str, Any]) -> tuple[Any, ...]:
    """What identifies a FINISH/FAILED result, so a cleared one stays cleared."""
    return (
        report.get("gcode_state"),
        report.get("subtask_name"),
        report.get("task_id"),
        report.get("print_error"),
    )


def job_fields(report: Mapping[str, Any], in_job: bool) -> dict[str, Any]:
    """File, progress, layers and time left while a job is loaded (all None otherwise)."""
    if not in_job:
        return dict.fromkeys(
            ("progress", "remaining_time_minutes", "layer_num", "total_layers", "current_file")
        )
    finished = str(report.get("gcode_state", "")).upper() == "FINISH"
    return {
        "progress": 100.0 if finished else number(report.get("mc_percent")),
        "remaining_time_minutes": 0 if finished else integer(report.get("mc_remaining_time")),
        "layer_num": integer(report.get("layer_num")),
        "total_layers": integer(report.get("total_layer_num")),
        "current_file": report.get("subtask_name") or report.get("gcode_file") or None,
    }


def readings(report: Mapping[str, Any], model: str | None) -> dict[str, Any]:
    """Light, trays, speed and temperatures as :class:`PrinterState` fields."""
    level = integer(report.get("spd_lvl"))
    names = list(SPEED_LEVELS)
    return {
        "light_on": light_state(report),
        "trays": trays(report),
        "active_tray": active_tray(report),
        "speed_level": names[level - 1] if level is not None and 1 <= level <= 4 else None,
        "speed_percent": integer(report.get("spd_mag")),
        **temperatures(report, model),
    }
