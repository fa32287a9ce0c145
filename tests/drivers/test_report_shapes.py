"""The drivers read only fields real printers send, with the types they send them in.

The documented shapes are the files under ``fixtures/`` (README.md names their sources).
Every field name the report parsers read (found in their source) must be a documented
field below, every documented field must occur in the fixtures, and every occurrence must
have the documented type. A driver reading a field no printer sends, or comparing a
string field to an int (Bambu sends ``tray_now`` and the AMS ids as strings), is caught.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apf_core.drivers import bambu_report as rep
from apf_core.drivers.base import Status

ROOT = Path(__file__).parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
NUMBER = (int, float)

#: Bambu report fields the driver reads -> the type the printers send (OpenBambuAPI
#: mqtt.md, ha-bambulab captures). ``[]`` marks a list's entries.
BAMBU_FIELDS: dict[str, type | tuple[type, ...]] = {
    "command": str,
    "sequence_id": str,
    "msg": int,
    "result": str,
    "reason": str,
    "gcode_state": str,
    "print_error": int,
    "mc_percent": int,
    "mc_remaining_time": int,
    "layer_num": int,
    "total_layer_num": int,
    "subtask_name": str,
    "gcode_file": str,
    "task_id": str,
    "nozzle_temper": NUMBER,
    "nozzle_target_temper": NUMBER,
    "bed_temper": NUMBER,
    "bed_target_temper": NUMBER,
    "chamber_temper": NUMBER,
    "sdcard": bool,
    "home_flag": int,
    "spd_lvl": int,
    "spd_mag": int,
    "hms": list,
    "hms[].attr": int,
    "hms[].code": int,
    "lights_report": list,
    "lights_report[].node": str,
    "lights_report[].mode": str,
    "ams": dict,
    "ams.ams": list,
    "ams.ams[].id": str,
    "ams.ams[].tray": list,
    "ams.ams[].tray[].id": str,
    "ams.ams[].tray[].tray_type": str,
    "ams.ams[].tray[].tray_color": str,
    "ams.ams[].tray[].remain": int,
    "ams.tray_now": str,
    "ams.tray_tar": str,
    "vt_tray": dict,
    "vt_tray.id": str,
    "vt_tray.tray_type": str,
    "vt_tray.tray_color": str,
    "vt_tray.remain": int,
    "vir_slot": list,
    "vir_slot[].id": str,
    "vir_slot[].tray_type": str,
    "vir_slot[].tray_color": str,
    "vir_slot[].remain": int,
    "device": dict,
    "device.bed": dict,
    "device.bed.info": dict,
    "device.bed.info.temp": int,
    "device.ctc": dict,
    "device.ctc.info": dict,
    "device.ctc.info.temp": int,
    "device.extruder": dict,
    "device.extruder.state": int,
    "device.extruder.info": list,
    "device.extruder.info[].id": int,
    "device.extruder.info[].temp": int,
    "device.extruder.info[].snow": int,
    "module": list,
    "module[].product_name": str,
}
#: read by bambu.py's reply handling (its other ``.get`` calls read connection options)
BAMBU_REPLY_READS = {"command", "sequence_id", "msg", "result", "reason"}

#: PrusaLink fields the driver reads -> type (Prusa-Link-Web spec/openapi.yaml)
PRUSALINK_FIELDS: dict[str, type | tuple[type, ...]] = {
    "api": str,
    "printer": dict,
    "printer.state": str,
    "printer.temp_nozzle": NUMBER,
    "printer.target_nozzle": NUMBER,
    "printer.temp_bed": NUMBER,
    "printer.target_bed": NUMBER,
    "printer.status_printer": dict,
    "printer.status_printer.ok": bool,
    "printer.status_printer.message": str,
    "job": dict,
    "job.id": int,
    "job.progress": NUMBER,
    "job.time_remaining": int,
    "id": int,
    "state": str,
    "file": dict,
    "file.name": str,
    "file.display_name": str,
    "title": str,
    "text": str,
}
#: functions of prusalink.py that read printer answers (the rest read options and headers)
PRUSALINK_READERS = ("_check_version", "_refresh", "_job_name", "_apply")
PRUSALINK_ERROR_READS = {"title", "text"}  # _error_text reads them through a loop variable


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def bambu_documents() -> Iterator[tuple[str, dict[str, Any]]]:
    for name in ("push_status_p1s", "push_status_x1c", "push_status_h2d"):
        yield name, _load(f"bambu/{name}.json")
    yield "ams_delta", _load("bambu/ams_delta.json")["print"]
    for name, entries in _load("bambu/hms.json").items():
        yield f"hms {name}", {"hms": entries}
    for name, reply in _load("bambu/replies.json").items():
        (body,) = reply.values()
        yield f"reply {name}", body


def prusalink_documents() -> Iterator[tuple[str, dict[str, Any]]]:
    for name in ("version", "info", "error"):
        yield name, _load(f"prusalink/{name}.json")
    for name, body in _load("prusalink/status.json").items():
        yield f"status {name}", body
    for name, body in _load("prusalink/job.json").items():
        yield f"job {name}", body


def paths(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every (dotted path, value) in a JSON document; list entries are ``name[]``."""
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else key
            yield path, item
            yield from paths(item, path)
    elif isinstance(value, list):
        for item in value:
            yield from paths(item, f"{prefix}[]")


def read_keys(path: Path, functions: tuple[str, ...] | None = None) -> set[str]:
    """String keys the code reads: ``x.get("k")``, ``x["k"]`` and ``section(r, "k")``."""
    tree = ast.parse(path.read_text())
    scopes: list[ast.AST] = [tree]
    if functions is not None:
        scopes = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in functions
        ]
        assert {getattr(s, "name", "") for s in scopes} == set(functions)
    found: set[str] = set()
    for scope in scopes:
        for node in ast.walk(scope):
            found |= _literal_keys(node)
    return found


def _literal_keys(node: ast.AST) -> set[str]:
    def text(arg: ast.expr) -> set[str]:
        return (
            {arg.value} if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else set()
        )

    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return text(node.args[0]) if node.func.attr == "get" and node.args else set()
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("section", "_info")
        and len(node.args) > 1
    ):
        return text(node.args[1])
    if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
        return text(node.slice)
    return set()


@pytest.mark.parametrize(
    ("reads", "fields"),
    [
        pytest.param(
            read_keys(ROOT / "apf_core/drivers/bambu_report.py")
            | read_keys(ROOT / "apf_core/drivers/bambu_commands.py")
            | BAMBU_REPLY_READS,
            BAMBU_FIELDS,
            id="bambu",
        ),
        pytest.param(
            read_keys(ROOT / "apf_core/drivers/prusalink.py", PRUSALINK_READERS)
            | PRUSALINK_ERROR_READS,
            PRUSALINK_FIELDS,
            id="prusalink",
        ),
    ],
)
def test_every_field_the_driver_reads_is_documented(
    reads: set[str], fields: dict[str, Any]
) -> None:
    documented = {path.replace("[]", "").rsplit(".", 1)[-1] for path in fields}
    assert reads - documented == set(), "the driver reads fields no fixture documents"


@pytest.mark.parametrize(
    ("documents", "fields"),
    [
        pytest.param(list(bambu_documents()), BAMBU_FIELDS, id="bambu"),
        pytest.param(list(prusalink_documents()), PRUSALINK_FIELDS, id="prusalink"),
    ],
)
def test_documented_fields_occur_with_their_type(
    documents: list[tuple[str, dict[str, Any]]], fields: dict[str, Any]
) -> None:
    seen: set[str] = set()
    for name, document in documents:
        for path, value in paths(document):
            expected = fields.get(path)
            if expected is None:
                continue
            seen.add(path)
            assert isinstance(value, expected) and not (
                isinstance(value, bool) and expected is not bool
            ), f"{name}: {path} is {type(value).__name__} {value!r}, documented {expected}"
    assert set(fields) - seen == set(), "documented fields missing from every fixture"


def test_a_field_the_printers_do_not_send_is_caught() -> None:
    reads = {"gcode_state", "nozzle_temp"}  # nozzle_temp: APF's name, not Bambu's
    documented = {path.replace("[]", "").rsplit(".", 1)[-1] for path in BAMBU_FIELDS}
    assert reads - documented == {"nozzle_temp"}
    assert "_check_version" in PRUSALINK_READERS
    assert {"ams", "tray_now", "hms"} <= read_keys(ROOT / "apf_core/drivers/bambu_report.py")


# --- the parser on the documented reports ----------------------------------------------
def test_p1s_report() -> None:
    report = _load("bambu/push_status_p1s.json")
    assert rep.print_status(report) == (Status.IDLE, None, None)
    temps = rep.temperatures(report, "P1S")
    assert (temps["nozzle_temp"], temps["bed_temp"]) == (24.5, 23.0)
    assert temps["chamber_temp"] is None  # P1 placeholder
    trays = {t.tray_id: t for t in rep.trays(report)}
    assert set(trays) == {0, 1, 2, 3, 254}
    assert trays[0].color_hex == "#FF0000" and trays[0].remaining_percent == 80.0
    assert rep.active_tray(report) is None
    assert rep.sd_card_missing(report) is False


def test_x1c_report_with_two_ams_units() -> None:
    report = _load("bambu/push_status_x1c.json")
    trays = {t.tray_id: t for t in rep.trays(report)}
    assert trays[4].filament_type == "ABS" and trays[4].unit == 1
    assert trays[255].filament_type is None  # vir_slot: an empty external spool
    assert rep.active_tray(report) is None  # snow 65535: nothing loaded
    assert rep.temperatures(report, "X1-CARBON")["chamber_temp"] == 25.0
    assert rep.light_state(report) is True
    assert rep.has_ams(report)
    # home_flag is a signed int with bit 8 set on this printer: the SD card is there
    assert report["home_flag"] < 0 and rep.sd_card_missing(report) is False


def test_h2d_report_packed_temperatures_and_active_slot() -> None:
    report = _load("bambu/push_status_h2d.json")
    packed_only = {k: v for k, v in report.items() if not k.endswith("temper")}
    temps = rep.temperatures(packed_only, "H2D")
    assert (temps["nozzle_temp"], temps["nozzle_target"]) == (215.0, 220.0)
    assert (temps["bed_temp"], temps["bed_target"]) == (58.0, 60.0)
    assert temps["chamber_temp"] == 35.0
    assert rep.temperatures(report, "H2D")["nozzle_temp"] == 215.0  # both forms agree
    loaded = rep.merge_report(report, {"device": {"extruder": {"info": [{"id": 0, "snow": 3}]}}})
    assert rep.active_tray(loaded) == 3  # unit 0, slot 3
    assert {254, 255} <= {t.tray_id for t in rep.trays(report)}


def test_ams_delta_keeps_the_other_unit() -> None:
    report = _load("bambu/push_status_p1s.json")  # P1 firmware sends deltas (X1 full reports)
    rep.merge_report(report, _load("bambu/ams_delta.json")["print"])
    trays = {t.tray_id: t for t in rep.trays(report)}
    assert trays[6].filament_type == "PLA" and trays[6].color_hex == "#FFFFFF"
    assert trays[0].filament_type == "PLA" and trays[1].filament_type == "PETG"  # kept
    assert rep.active_tray(report) == 6


def test_documented_runout_hms_is_a_reason_on_a_pause() -> None:
    report = _load("bambu/push_status_p1s.json")
    rep.merge_report(report, {"gcode_state": "PAUSE", "hms": _load("bambu/hms.json")["runout"]})
    assert rep.print_status(report)[0] is Status.PAUSED
    (message,) = rep.messages(report)
    assert message.code == "HMS_0700_2000_0002_0001"


@pytest.mark.parametrize(
    ("product", "model"),
    [("Bambu Lab X1-Carbon", "X1C"), ("Bambu Lab A1 mini", "A1MINI"), ("Bambu Lab P1S", "P1S")],
)
def test_model_from_the_documented_get_version(product: str, model: str) -> None:
    version = _load("bambu/replies.json")["get_version"]["info"]
    version["module"][0]["product_name"] = product
    assert rep.model_name(version) == model
