"""Bambu Lab commands: the payload details the driver sends, and how a command shows its
effect in the reports when the printer answers without a ``result`` (or not at all).

:class:`ReportWaiters` lets a command wait until a predicate over the merged report holds;
the predicates below are the effects the driver waits for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from . import bambu_report as rep
from .base import DriverError

Predicate = Callable[[Mapping[str, Any]], bool]


class ReportWaiters:
    """Commands waiting for their effect to show in the merged report."""

    def __init__(self) -> None:
        self._waiters: list[tuple[Predicate, asyncio.Future[None]]] = []

    def check(self, report: Mapping[str, Any]) -> None:
        """Wake every waiter whose predicate holds of ``report`` (call on each new report)."""
        for predicate, future in tuple(self._waiters):
            if not future.done() and predicate(report):
                future.set_result(None)

    async def shows(self, report: Mapping[str, Any], predicate: Predicate, timeout: float) -> bool:
        """True once ``predicate`` holds (now, or of a report within ``timeout`` s)."""
        if predicate(report):
            return True
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (predicate, future)
        self._waiters.append(entry)
        try:
            async with asyncio.timeout(max(timeout, 0.1)):
                await future
            return True
        except TimeoutError:
            return False
        finally:
            self._waiters.remove(entry)


def state_in(*states: str) -> Predicate:
    return lambda report: str(report.get("gcode_state", "")).upper() in states


def job_started(report: Mapping[str, Any]) -> bool:
    return str(report.get("gcode_state", "")).upper() in ("PREPARE", "SLICING", "INIT", "RUNNING")


def light_is(node: str, mode: str) -> Predicate:
    def check(report: Mapping[str, Any]) -> bool:
        return any(
            isinstance(light, Mapping) and light.get("node") == node and light.get("mode") == mode
            for light in report.get("lights_report") or ()
        )

    return check


def tray_target(tray: int) -> Predicate:
    def check(report: Mapping[str, Any]) -> bool:
        ams = rep.section(report, "ams")
        return str(tray) in (str(ams.get("tray_tar")), str(ams.get("tray_now")))

    return check


def light_nodes(model: str | None, report: Mapping[str, Any]) -> list[str]:
    """The chamber light nodes to switch: a second one on two-light models."""
    reported = {
        light.get("node")
        for light in report.get("lights_report") or ()
        if isinstance(light, Mapping)
    }
    if model in rep.TWO_LIGHT_MODELS or "chamber_light2" in reported:
        return ["chamber_light", "chamber_light2"]
    return ["chamber_light"]


def ams_address(tray_id: int) -> tuple[int, int]:
    """``(ams_id, slot_id)`` for ``ams_change_filament`` to load ``tray_id``."""
    if tray_id == rep.EXTERNAL_SPOOL:
        return rep.NO_TRAY, 0
    if tray_id == rep.SECOND_EXTERNAL_SPOOL:
        return rep.EXTERNAL_SPOOL, 0
    if rep.HT_FIRST_UNIT <= tray_id < rep.HT_FIRST_UNIT + 8:
        return tray_id, 0
    if 0 <= tray_id < 4 * 4:  # up to four AMS units of four trays
        return divmod(tray_id, 4)
    raise DriverError(f"printer has no tray {tray_id}", code="INVALID_TRAY")


def unload_ams_id(active: int | None) -> int:
    """The ``ams_id`` to unload from: the active tray's unit (an AMS HT unit is its tray)."""
    ams_id = active // 4 if active is not None and active < 16 else rep.NO_TRAY
    if active is not None and rep.HT_FIRST_UNIT <= active < rep.EXTERNAL_SPOOL:
        ams_id = active
    return ams_id


def print_url(scheme: str | None, model: str | None, filename: str) -> str:
    """``file:///sdcard/<name>``, or ``ftp:///<name>`` (the default on models that want it)."""
    scheme = scheme or ("ftp" if model in rep.FTP_URL_MODELS else "file")
    return f"ftp:///{filename}" if scheme == "ftp" else f"file:///sdcard/{filename}"


def project_file_fields(url: str, name: str, planned: Mapping[str, Any]) -> dict[str, Any]:
    """``project_file`` fields: the plate and AMS plan plus the calibrations we ask for."""
    return {
        "url": url,
        "subtask_name": name,
        "md5": "",
        "bed_type": "auto",
        "timelapse": False,
        "bed_leveling": True,
        "flow_cali": True,
        "vibration_cali": True,
        "layer_inspect": True,
        "profile_id": "0",
        "project_id": "0",
        **planned,
    }
