"""What a job needs to be queued and started: a sliced file, a printer that is not busy,
and per-job start options (Bambu plate, AMS use, tray mapping).

Options are stored on the job (``jobs.start_options``) and travel to the driver in the
``start`` command's params (:func:`apf_core.drivers.manager.start_options` reads them back).
What the job leaves out the driver derives from the file and the printer's loaded trays.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import BadRequest, Conflict
from ..files import MetadataError, file_kind
from ..files.threemf import sliced_plates
from ..lifecycle import ACTIVE_JOB_STATES
from ..storage.tables.spine import file_versions, jobs

#: printer states (stored or reported live) that mean a print is on the bed
BUSY_STATES = ("printing", "paused")

OPTION_KEYS = ("plate", "use_ams", "ams_mapping")


def normalise(options: dict[str, Any] | None) -> dict[str, Any] | None:
    """The options that are set, or None when the job pins nothing."""
    kept = {k: options[k] for k in OPTION_KEYS if options and options.get(k) is not None}
    return kept or None


async def file_path(conn: AsyncConnection, files_dir: Path, file: dict[str, Any]) -> Path:
    """Where the file's current version is stored."""
    current = await conn.scalar(
        select(file_versions.c.storage_key).where(
            file_versions.c.file_id == file["id"],
            file_versions.c.is_current_version.is_(True),
        )
    )
    return files_dir / str(current or file["storage_key"])


async def check(path: Path, filename: str, options: dict[str, Any] | None) -> None:
    """Refuse a plate the file has no sliced G-code for (``INVALID_PLATE``)."""
    plate = (options or {}).get("plate")
    if plate is None:
        return
    if not filename.lower().endswith(".3mf"):
        raise BadRequest(
            "start_options.plate: only a sliced 3MF has plates", code="INVALID_PLATE"
        )
    try:
        plates = await asyncio.to_thread(sliced_plates, path)
    except (MetadataError, OSError) as err:
        raise BadRequest(f"start_options.plate: {err}", code="INVALID_PLATE") from None
    if plate not in plates:
        listed = ", ".join(map(str, plates)) or "none"
        raise BadRequest(
            f"start_options.plate: the file has no sliced plate {plate} (sliced: {listed})",
            code="INVALID_PLATE",
        )


async def check_printable(path: Path, filename: str) -> None:
    """Refuse a file a printer cannot run (``FILE_NOT_PRINTABLE``): only G-code, binary
    G-code and a 3MF with sliced plate G-code can be queued; a model or project must be
    sliced first."""
    kind = file_kind(filename)
    if kind in ("gcode", "bgcode"):
        return
    if kind == "3mf":
        try:
            plates = await asyncio.to_thread(sliced_plates, path)
        except (MetadataError, OSError):
            plates = []
        if plates:
            return
    raise BadRequest(
        f"print_file_id: file '{filename}' is not sliced; slice it to G-code, binary G-code "
        "or a sliced 3MF (.gcode.3mf) before queueing it",
        code="FILE_NOT_PRINTABLE",
        field="print_file_id",
    )


async def check_not_busy(
    conn: AsyncConnection, printer: dict[str, Any], job_id: str, live_status: str | None
) -> None:
    """409 ``PRINTER_BUSY`` naming the job the printer is on (or the state it reports)."""
    current = (
        await conn.execute(
            select(jobs.c.id, jobs.c.file_name, jobs.c.status)
            .where(
                jobs.c.printer_id == printer["id"],
                jobs.c.id != job_id,
                jobs.c.status.in_(ACTIVE_JOB_STATES),
            )
            .limit(1)
        )
    ).first()
    if current is not None:
        what = f"job {current.id} ('{current.file_name}', {current.status})"
    elif live_status in BUSY_STATES or printer["status"] in BUSY_STATES:
        what = f"a print it reports as {live_status or printer['status']} (not a job of this farm)"
    else:
        return
    raise Conflict(
        f"Printer '{printer['name']}' is busy with {what}",
        code="PRINTER_BUSY",
        extra={"current_job_id": current.id if current is not None else None},
    )


def command_params(options: dict[str, Any] | None) -> dict[str, Any]:
    """The ``start`` command params for the stored options."""
    return {k: v for k, v in (options or {}).items() if k in OPTION_KEYS and v is not None}
