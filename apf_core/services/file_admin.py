"""Print files beyond creation: delete, download, and the one-request upload.

The one-request upload is the three-step flow run in one go (token, bytes,
create), so limits, parsing and metadata are the same; when any step fails the
staged token and bytes are removed and nothing is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, update

from ..errors import Conflict, NotFound
from ..files import content_type_for
from ..lifecycle import ACTIVE_JOB_STATES, JobStatus
from ..storage.tables.catalogue import kit_parts, products
from ..storage.tables.spine import jobs, print_files, upload_tokens
from .files import FileService
from .upload_tokens import hash_token

if TYPE_CHECKING:
    from ..farm import Farm

#: jobs in these states still need their file
FILE_HOLDING_STATES = (JobStatus.QUEUED.value, *ACTIVE_JOB_STATES)


@dataclass(frozen=True, slots=True)
class Download:
    path: Path
    filename: str
    content_type: str


class FileAdmin:
    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self.files = FileService(farm)

    async def delete(self, file_id: str) -> dict[str, Any]:
        """Remove a file, its versions and bytes; refused while a job or kit needs it."""
        db = self.farm.db
        async with db.begin() as conn:
            row = await self.files._file(conn, file_id, for_update=True)
            holding = list(
                (
                    await conn.execute(
                        select(jobs.c.id, jobs.c.status)
                        .where(
                            jobs.c.print_file_id == file_id,
                            jobs.c.status.in_(FILE_HOLDING_STATES),
                        )
                        .limit(5)
                    )
                ).all()
            )
            if holding:
                listed = ", ".join(f"{job_id} ({status})" for job_id, status in holding)
                raise Conflict(
                    f"File is used by unfinished jobs: {listed}; cancel or delete them first",
                    code="FILE_IN_USE",
                    extra={"job_ids": [job_id for job_id, _ in holding]},
                )
            kit = await conn.scalar(
                select(kit_parts.c.name).where(kit_parts.c.print_file_id == file_id).limit(1)
            )
            if kit is not None:
                raise Conflict(
                    f"File is the print file of kit part '{kit}'; change the kit first",
                    code="FILE_IN_USE",
                )
            await conn.execute(
                update(products)
                .where(products.c.print_file_id == file_id)
                .values(print_file_id=None)
            )
            await conn.execute(delete(print_files).where(print_files.c.id == file_id))
            await self.farm.events.emit(conn, "file.deleted", {"id": file_id, "name": row["name"]})
        await asyncio.to_thread(self.files.store.remove_tree, file_id)
        return {"id": file_id, "deleted": True, "name": row["name"]}

    async def download(self, file_id: str) -> Download:
        """The current version's bytes on disk, with the file's name."""
        async with self.farm.db.read() as conn:
            row = await self.files._file(conn, file_id)
        try:
            path = self.files.store.path(row["storage_key"])
        except ValueError:
            path = None
        if path is None or not await asyncio.to_thread(path.is_file):
            raise NotFound("The file's bytes are missing from storage", code="FILE_NOT_FOUND")
        return Download(path, row["name"], content_type_for(row["name"]))

    @contextlib.asynccontextmanager
    async def staged(
        self,
        filename: str,
        chunks: AsyncIterator[bytes],
        declared_length: int | None,
        api_key_id: str | None,
    ) -> AsyncIterator[str]:
        """Steps one and two of the upload flow (token, bytes); yields the ``storage_key``
        for :meth:`FileService.create`. Any failure inside removes the token and bytes."""
        issued = await self.files.issue_upload(filename, None, api_key_id)
        try:
            await self.files.receive_upload(issued["upload_token"], chunks, declared_length)
            yield str(issued["storage_key"])
        except BaseException:
            await self._forget(issued["upload_token"], issued["storage_key"])
            raise

    async def _forget(self, token: str, storage_key: str) -> None:
        async with self.farm.db.begin() as conn:
            await conn.execute(
                delete(upload_tokens).where(upload_tokens.c.token_hash == hash_token(token))
            )
        await asyncio.to_thread(self.files.store.remove_upload, storage_key)
