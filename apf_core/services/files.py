"""Print files (reference 3.6): upload tokens, streamed uploads, synchronous
metadata extraction, versions and thumbnails.

Flow: ``issue_upload`` mints a one-hour token bound to an opaque
``storage_key``; ``receive_upload`` streams the body (capped) to that key,
replays overwrite it; ``create`` / ``add_version`` claim the uploaded bytes,
parse them in a thread and store row + version + thumbnail together. A file
that fails to parse leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import BadRequest, NotFound, TooLarge, ValidationFailed
from ..files import FileMetadata, MetadataError, content_type_for, file_kind, parse_metadata
from ..files.store import (
    FileStore,
    PayloadTooLarge,
    discard_claim,
    parse_upload_key,
    upload_key,
    version_key,
)
from ..storage.tables.catalogue import products
from ..storage.tables.spine import file_versions, print_files, upload_tokens
from ..timeutil import new_id, utcnow
from .common import fetch_one, fetch_page, project
from .file_columns import (
    base_name,
    file_columns,
    public_metadata,
    thumbnail_entry,
    version_metadata,
)
from .upload_tokens import (
    STALE_UPLOAD_GRACE,
    consume_token,
    hash_token,
    live_token,
    purge_stale_uploads,
    uploaded_token,
)

if TYPE_CHECKING:
    from ..farm import Farm

FILE_FIELDS = (
    "id",
    "name",
    "product_id",
    "file_size_bytes",
    "number_of_units",
    "print_time_seconds",
    "filament_weight_grams",
    "filament_length_meters",
    "filament_type",
    "printer_model_id",
    "nozzle_diameter",
    "layer_count",
    "curr_bed_type",
    "default_print_profile",
    "object_count",
    "has_thumbnail",
    "created_at",
    "updated_at",
)
VERSION_FIELDS = ("id", "version_number", "notes", "is_current_version", "created_at")
#: metadata columns copied from a version to its file when it becomes current
METADATA_COLUMNS = (
    "print_time_seconds",
    "filament_weight_grams",
    "filament_length_meters",
    "filament_type",
    "printer_model_id",
    "nozzle_diameter",
    "layer_count",
    "curr_bed_type",
    "default_print_profile",
    "object_count",
)
#: kinds parse-metadata accepts (the reference: 3MF or GCODE only)
PARSEABLE_KINDS = ("3mf", "gcode", "bgcode")
#: larger version numbers cannot exist (the column is a 32-bit integer)
MAX_VERSION_NUMBER = 2_147_483_647


def file_view(row: dict[str, Any]) -> dict[str, Any]:
    return project(row, FILE_FIELDS)


def version_view(row: dict[str, Any]) -> dict[str, Any]:
    return project(row, VERSION_FIELDS)


class FileService:
    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self.db = farm.db
        self.settings = farm.settings
        self.store = FileStore(farm.settings.files_dir, farm.settings.max_upload_bytes)

    # --- reads ------------------------------------------------------------
    async def search(
        self,
        *,
        limit: int,
        offset: int,
        product_id: str | None = None,
        filament_type: str | None = None,
        model_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first. ``filament_type`` matches one of a multi-material list."""
        query = select(print_files).order_by(print_files.c.created_at.desc(), print_files.c.id)
        if product_id is not None:
            query = query.where(print_files.c.product_id == product_id)
        if filament_type is not None:
            column, wanted = func.lower(print_files.c.filament_type), filament_type.lower()
            query = query.where(
                or_(
                    column == wanted,
                    column.startswith(wanted + ";", autoescape=True),
                    column.endswith(";" + wanted, autoescape=True),
                    column.contains(";" + wanted + ";", autoescape=True),
                )
            )
        if model_id is not None:
            query = query.where(func.lower(print_files.c.printer_model_id) == model_id.lower())
        async with self.db.read() as conn:
            rows = await fetch_page(conn, query, limit, offset)
        return [file_view(row) for row in rows]

    async def get(self, file_id: str) -> dict[str, Any]:
        async with self.db.read() as conn:
            row = await self._file(conn, file_id)
            versions = await self._versions(conn, file_id)
        return {**file_view(row), "versions": versions}

    async def versions(self, file_id: str) -> list[dict[str, Any]]:
        async with self.db.read() as conn:
            await self._file(conn, file_id)
            return await self._versions(conn, file_id)

    async def thumbnail(self, file_id: str) -> tuple[bytes, str]:
        """The current version's thumbnail bytes and content type."""
        async with self.db.read() as conn:
            row = await self._file(conn, file_id)
        key = row["thumbnail_key"]
        if not row["has_thumbnail"] or not key:
            raise NotFound("This file has no thumbnail", code="NO_THUMBNAIL")
        try:
            data = await asyncio.to_thread(self.store.path(key).read_bytes)
        except (OSError, ValueError):
            raise NotFound("This file has no thumbnail", code="NO_THUMBNAIL") from None
        return data, "image/jpeg" if key.endswith(".jpg") else "image/png"

    # --- upload tokens ------------------------------------------------------
    async def issue_upload(
        self, filename: str, content_type: str | None, api_key_id: str | None
    ) -> dict[str, Any]:
        """A one-hour upload token; the bytes land at ``storage_key`` (the API layer
        tells the client where to send them)."""
        token = secrets.token_urlsafe(32)
        file_id = new_id()
        storage_key = upload_key(file_id, filename)
        ttl = self.settings.upload_token_ttl_seconds
        now = utcnow()
        content_type = content_type or content_type_for(filename)
        async with self.db.begin() as conn:
            stale = await purge_stale_uploads(conn, now)
            await conn.execute(
                insert(upload_tokens).values(
                    token_hash=hash_token(token),
                    file_id=file_id,
                    filename=filename,
                    storage_key=storage_key,
                    content_type=content_type,
                    api_key_id=api_key_id,
                    expires_at=now + timedelta(seconds=ttl),
                )
            )
        for key in stale:
            await asyncio.to_thread(self.store.remove_upload, key)
        await asyncio.to_thread(self.store.sweep, STALE_UPLOAD_GRACE.total_seconds())
        return {
            "file_id": file_id,
            "filename": filename,
            "upload_token": token,
            "content_type": content_type,
            "expires_in": ttl,
            "storage_key": storage_key,
        }

    async def receive_upload(
        self, token: str, chunks: AsyncIterator[bytes], declared_length: int | None
    ) -> dict[str, Any]:
        """Stream the body to the token's location (a replay overwrites it)."""
        async with self.db.read() as conn:
            await live_token(conn, token)
        if declared_length is not None and declared_length > self.store.max_bytes:
            raise _too_large(self.store.max_bytes)
        try:
            temp, size = await self.store.receive(chunks)
        except PayloadTooLarge as err:
            raise _too_large(err.limit) from None
        try:
            async with self.db.begin() as conn:
                row = await live_token(conn, token, for_update=True)
                await asyncio.to_thread(self.store.publish, temp, row["storage_key"])
                await conn.execute(
                    update(upload_tokens)
                    .where(upload_tokens.c.token_hash == row["token_hash"])
                    .values(size_bytes=size, uploaded_at=utcnow())
                )
        finally:
            await asyncio.to_thread(temp.unlink, missing_ok=True)
        return {"size_bytes": size}

    # --- files and versions ---------------------------------------------------
    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        storage_key, name = body["storage_key"], body["name"]
        _, filename = _upload_parts(storage_key)
        if name != filename:
            raise _invalid_field("name", "must equal the file name at the end of storage_key")
        async with self.db.read() as conn:
            token = await uploaded_token(conn, storage_key)
            if body.get("product_id") is not None:
                found = await conn.scalar(
                    select(products.c.id).where(products.c.id == body["product_id"])
                )
                if found is None:
                    raise NotFound("Product not found", code="PRODUCT_NOT_FOUND")
        file_id = str(token["file_id"])
        claimed, meta, size = await self._claim_and_parse(storage_key, name)
        now = utcnow()
        stored_key = version_key(file_id, 1, name)
        thumb = thumbnail_entry(file_id, 1, meta)
        row = {
            "id": file_id,
            "name": name,
            "product_id": body.get("product_id"),
            "number_of_units": body.get("number_of_units", 1),
            "created_at": now,
            "updated_at": now,
            **file_columns(meta, size, stored_key, thumb),
        }
        installed: list[str] = []
        try:
            async with self.db.begin() as conn:
                await consume_token(conn, token)
                await conn.execute(insert(print_files).values(**row))
                await conn.execute(
                    insert(file_versions).values(
                        id=new_id(),
                        file_id=file_id,
                        version_number=1,
                        storage_key=stored_key,
                        is_current_version=True,
                        created_at=now,
                        metadata=version_metadata(meta, size, thumb, name),
                    )
                )
                await asyncio.to_thread(self._install, claimed, stored_key, thumb, storage_key)
                installed.append(stored_key)
                view = file_view(await self._file(conn, file_id))
                await self.farm.events.emit(conn, "file.created", view)
        except BaseException:
            await asyncio.to_thread(self._undo, claimed, installed)
            raise
        return view

    async def add_version(self, file_id: str, body: dict[str, Any]) -> dict[str, Any]:
        storage_key = body["storage_key"]
        _, filename = _upload_parts(storage_key)
        async with self.db.read() as conn:
            parent = await self._file(conn, file_id)
            if file_kind(filename) != file_kind(parent["name"]):
                kind = file_kind(parent["name"])
                raise _invalid_field("storage_key", f"must hold a .{kind} file like the original")
            token = await uploaded_token(conn, storage_key)
        claimed, meta, size = await self._claim_and_parse(storage_key, filename)
        make_current = body.get("set_as_current", True)
        installed: list[str] = []
        try:
            async with self.db.begin() as conn:
                await self._file(conn, file_id, for_update=True)
                number = await self._next_version_number(conn, file_id)
                await consume_token(conn, token)
                stored_key = version_key(file_id, number, filename)
                thumb = thumbnail_entry(file_id, number, meta)
                version_id = new_id()
                await conn.execute(
                    insert(file_versions).values(
                        id=version_id,
                        file_id=file_id,
                        version_number=number,
                        notes=body.get("notes"),
                        storage_key=stored_key,
                        is_current_version=False,
                        created_at=utcnow(),
                        metadata=version_metadata(meta, size, thumb, filename),
                    )
                )
                await asyncio.to_thread(self._install, claimed, stored_key, thumb, storage_key)
                installed.append(stored_key)
                if make_current:
                    await self._make_current(conn, file_id, version_id)
                view = version_view(await self._version(conn, file_id, str(number)))
                await self.farm.events.emit(
                    conn, "file.version_added", {"file_id": file_id, **view}
                )
        except BaseException:
            await asyncio.to_thread(self._undo, claimed, installed)
            raise
        return view

    async def set_current(self, file_id: str, version_ref: str) -> dict[str, Any]:
        """Make a version current (by number, or by version id) and repoint the file."""
        async with self.db.begin() as conn:
            await self._file(conn, file_id, for_update=True)
            version = await self._version(conn, file_id, version_ref)
            await self._make_current(conn, file_id, str(version["id"]))
            view = version_view(await self._version(conn, file_id, str(version["id"])))
            await self.farm.events.emit(conn, "file.version_current", {"file_id": file_id, **view})
        return view

    async def parse_only(self, filename: str, chunks: AsyncIterator[bytes]) -> dict[str, Any]:
        """Metadata of an uploaded 3MF, G-code or binary G-code file without storing anything."""
        kind = file_kind(filename)
        if kind not in PARSEABLE_KINDS:
            raise BadRequest(
                "Only .3mf, .gcode and .bgcode files can be parsed", code="UNSUPPORTED_FILE_TYPE"
            )
        try:
            temp, size = await self.store.receive(chunks)
        except PayloadTooLarge as err:
            raise _too_large(err.limit) from None
        try:
            meta = await asyncio.to_thread(parse_metadata, temp, filename)
        except MetadataError as err:
            raise BadRequest(str(err), code="INVALID_FILE") from None
        finally:
            await asyncio.to_thread(temp.unlink, missing_ok=True)
        return {"name": base_name(filename), "file_size_bytes": size, **public_metadata(meta)}

    # --- helpers ------------------------------------------------------------
    async def _file(
        self, conn: AsyncConnection, file_id: str, *, for_update: bool = False
    ) -> dict[str, Any]:
        return await fetch_one(
            conn, print_files, file_id, code="FILE_NOT_FOUND", label="File", for_update=for_update
        )

    async def _versions(self, conn: AsyncConnection, file_id: str) -> list[dict[str, Any]]:
        rows = (
            await conn.execute(
                select(file_versions)
                .where(file_versions.c.file_id == file_id)
                .order_by(file_versions.c.version_number.desc())
            )
        ).mappings()
        return [version_view(dict(row)) for row in rows]

    async def _next_version_number(self, conn: AsyncConnection, file_id: str) -> int:
        latest = await conn.scalar(
            select(func.max(file_versions.c.version_number)).where(
                file_versions.c.file_id == file_id
            )
        )
        return int(latest or 0) + 1

    async def _version(self, conn: AsyncConnection, file_id: str, ref: str) -> dict[str, Any]:
        query = select(file_versions).where(file_versions.c.file_id == file_id)
        if ref.isascii() and ref.isdigit():
            number = int(ref)
            if number > MAX_VERSION_NUMBER:  # beyond any column value (and PostgreSQL int4)
                raise NotFound("Version not found", code="VERSION_NOT_FOUND")
            query = query.where(file_versions.c.version_number == number)
        else:
            query = query.where(file_versions.c.id == ref)
        row = (await conn.execute(query)).mappings().first()
        if row is None:
            raise NotFound("Version not found", code="VERSION_NOT_FOUND")
        return dict(row)

    async def _make_current(self, conn: AsyncConnection, file_id: str, version_id: str) -> None:
        version = (
            (await conn.execute(select(file_versions).where(file_versions.c.id == version_id)))
            .mappings()
            .one()
        )
        await conn.execute(
            update(file_versions)
            .where(file_versions.c.file_id == file_id)
            .values(is_current_version=file_versions.c.id == version_id)
        )
        values: dict[str, Any] = {"storage_key": version["storage_key"], "updated_at": utcnow()}
        stored = version["metadata"]
        if isinstance(stored, dict):  # versions seeded without metadata keep the file's fields
            values.update({column: stored.get(column) for column in METADATA_COLUMNS})
            values["file_size_bytes"] = stored.get("file_size_bytes") or 0
            values["thumbnail_key"] = stored.get("thumbnail_key")
            values["has_thumbnail"] = bool(stored.get("thumbnail_key"))
        await conn.execute(update(print_files).where(print_files.c.id == file_id).values(**values))

    async def _claim_and_parse(
        self, storage_key: str, filename: str
    ) -> tuple[Path, FileMetadata, int]:
        """Take the uploaded bytes for ourselves, then parse them in a thread."""
        claimed = await asyncio.to_thread(self.store.claim, storage_key)
        if claimed is None:
            raise BadRequest("Nothing was uploaded for this storage_key", code="UPLOAD_MISSING")
        try:
            meta = await asyncio.to_thread(parse_metadata, claimed, filename)
            size = (await asyncio.to_thread(claimed.stat)).st_size
        except BaseException as err:
            await asyncio.to_thread(discard_claim, claimed)
            if isinstance(err, MetadataError):
                raise BadRequest(str(err), code="INVALID_FILE") from None
            raise
        return claimed, meta, size

    def _install(
        self, claimed: Path, key: str, thumb: tuple[str, bytes] | None, storage_key: str
    ) -> None:
        self.store.install(claimed, key, thumb)
        self.store.remove_upload(storage_key)  # a replay that raced the claim

    def _undo(self, claimed: Path, installed: list[str]) -> None:
        """Drop the claimed bytes and only the version folder this request installed
        (a concurrent request may own the file's other folders)."""
        discard_claim(claimed)
        for key in installed:
            self.store.remove_tree(key.rsplit("/", 1)[0])


def _upload_parts(storage_key: str) -> tuple[str, str]:
    parts = parse_upload_key(storage_key)
    if parts is None:
        raise BadRequest(
            "storage_key must be the value returned by POST /files/upload-url",
            code="INVALID_STORAGE_KEY",
        )
    return parts


def _invalid_field(field: str, message: str) -> ValidationFailed:
    details = [{"field": field, "message": message}]
    return ValidationFailed(f"Invalid body: {field}: {message}", extra={"details": details})


def _too_large(limit: int) -> TooLarge:
    return TooLarge(f"File is larger than the {limit // (1024 * 1024)} MB upload limit")
