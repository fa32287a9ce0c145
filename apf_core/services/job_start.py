"""Per-job start options: what a job pins for its start (Bambu plate, AMS use, tray mapping).

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

from ..errors import BadRequest
from ..files import MetadataError
from ..files.threemf import sliced_plates
from ..storage.tables.spine import file_versions

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


def command_params(options: dict[str, Any] | None) -> dict[str, Any]:
    """The ``start`` command params for the stored options."""
    return {k: v for k, v in (options or {}).items() if k in OPTION_KEYS and v is not None}
