"""Files (reference 3.6): upload tokens, uploads, metadata, versions, thumbnails."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import voluptuous as vol
from aiohttp import BodyPartReader, web

from ...errors import BadRequest, DomainError, ValidationFailed
from ...files.store import filename_problem
from ...services.file_admin import FileAdmin
from ...services.file_schemas import (
    FILE,
    FILE_DELETED,
    FILE_WITH_VERSIONS,
    PARSED_METADATA,
    UPLOAD_TOKEN,
    UPLOADED,
    VERSION,
)
from ...services.files import FileService
from ..framework import (
    BASE_PATH,
    MULTIPART_ERRORS,
    Ctx,
    RouteTable,
    created,
    nullable,
    ok,
    page_query,
    paged,
    text,
    validate,
)

routes = RouteTable("Files", "Print files: uploads, parsed metadata, versions and thumbnails.")

READ_CHUNK = 64 * 1024


#: offsets past this fail in the database drivers (64-bit overflow); no list gets that long
MAX_OFFSET = 2_147_483_647


def _page_query() -> dict[Any, Any]:
    """page_query() with an upper bound on ``offset`` (a huge one was a 500)."""
    query = page_query()
    query[vol.Optional("offset", default=0)] = vol.All(
        vol.Coerce(int), vol.Range(min=0, max=MAX_OFFSET)
    )
    return query


def safe_filename(value: Any) -> str:
    if not isinstance(value, str):
        raise vol.Invalid("expected a string")
    problem = filename_problem(value)
    if problem is not None:
        raise vol.Invalid(problem)
    return value


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise vol.Invalid("expected an integer")
    return value


@routes.get(
    "/files",
    scope="read",
    summary="List print files",
    response=[FILE],
    query={
        **_page_query(),
        vol.Optional("product_id"): text(36, 1),
        vol.Optional("filament_type"): text(50, 1),
        vol.Optional("model_id"): text(120, 1),
    },
    paginated=True,
    description="Newest first. `model_id` matches `printer_model_id`. No storage paths, URLs "
    "or thumbnails in lists.",
)
async def list_files(ctx: Ctx) -> web.StreamResponse:
    query = ctx.query
    rows = await FileService(ctx.farm).search(**query)
    return paged(rows, query["limit"], query["offset"])


@routes.post(
    "/files/upload-url",
    scope="write",
    summary="Get an upload token",
    response=UPLOAD_TOKEN,
    body={
        vol.Required("filename"): safe_filename,
        vol.Optional("content_type"): nullable(text(100, 1)),
    },
    status=201,
    description="Token issued: PUT the bytes to `upload_url` within `expires_in` seconds (one "
    "hour; replays overwrite), then POST /files with `storage_key` verbatim.",
)
async def upload_url(ctx: Ctx) -> web.StreamResponse:
    data = await FileService(ctx.farm).issue_upload(
        ctx.body["filename"], ctx.body.get("content_type"), ctx.key.id if ctx.key else None
    )
    base = f"{ctx.request.url.origin()}{BASE_PATH}"
    return created({**data, "upload_url": f"{base}/files/upload/{data['upload_token']}"})


@routes.put(
    "/files/upload/{token}",
    scope=None,
    summary="Upload the bytes for a token",
    response=UPLOADED,
    body_kind="raw",
    errors=(
        "UPLOAD_TOKEN_INVALID",
        "UPLOAD_TOKEN_EXPIRED",
        "UPLOAD_TOKEN_USED",
        "PAYLOAD_TOO_LARGE",
    ),
    description="Raw `application/octet-stream` body, at most 100 MB. Any valid API key; the "
    "token is the credential.",
)
async def upload_bytes(ctx: Ctx) -> web.StreamResponse:
    request = ctx.request
    service = FileService(ctx.farm)
    async with _drained_on_refusal(request, ctx.farm.settings.max_upload_bytes):
        data = await service.receive_upload(
            ctx.params["token"], request.content.iter_chunked(READ_CHUNK), request.content_length
        )
    return ok(data)


@routes.post(
    "/files/parse-metadata",
    scope="read",
    summary="Parse a file's metadata without storing it",
    response=PARSED_METADATA,
    body_kind="multipart",
    errors=("UNSUPPORTED_FILE_TYPE", "INVALID_FILE", "PAYLOAD_TOO_LARGE"),
    description="Multipart field `file` (.3mf, .gcode or .bgcode). Nothing is persisted.",
)
async def parse_file_metadata(ctx: Ctx) -> web.StreamResponse:
    request = ctx.request
    if not request.content_type.startswith("multipart/"):
        raise _missing_file()
    service = FileService(ctx.farm)
    async with _drained_on_refusal(request, ctx.farm.settings.max_upload_bytes):
        try:
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if isinstance(part, BodyPartReader) and part.name == "file":
                    return ok(await service.parse_only(part.filename or "", _chunks(part)))
                await part.release()
        except MULTIPART_ERRORS as err:
            raise BadRequest(f"Malformed multipart body: {err}") from None
    raise _missing_file()


#: the form fields of a one-request upload (strings, like every form value)
_FORM = vol.Schema(
    {
        vol.Optional("product_id"): text(36, 1),
        vol.Optional("number_of_units", default=1): vol.All(
            vol.Coerce(int, msg="must be a whole number"), vol.Range(min=1, max=100000)
        ),
    }
)
#: a form text field longer than this is refused
MAX_FORM_VALUE = 1024


@routes.post(
    "/files",
    scope="write",
    summary="Create a file (from an upload, or in one multipart request)",
    response=FILE,
    body={
        vol.Required("name"): safe_filename,
        vol.Required("storage_key"): text(500, 1),
        vol.Optional("product_id"): nullable(text(36, 1)),
        vol.Optional("number_of_units", default=1): vol.All(
            int, _count, vol.Range(min=1, max=100000)
        ),
    },
    body_kind="json_or_multipart",
    status=201,
    errors=(
        "INVALID_STORAGE_KEY",
        "UPLOAD_MISSING",
        "UPLOAD_ALREADY_USED",
        "INVALID_FILE",
        "PRODUCT_NOT_FOUND",
        "PAYLOAD_TOO_LARGE",
    ),
    description="Parses 3MF/G-code/binary G-code metadata and the thumbnail synchronously and "
    "stores the file with version 1. A malformed file is rejected (`INVALID_FILE`) and nothing "
    "is kept.\n\nTwo ways to send it:\n\n- **JSON** `{name, storage_key, product_id?, "
    "number_of_units?}` after `POST /files/upload-url` and `PUT /files/upload/{token}`.\n"
    "- **One request**: `multipart/form-data` with the part `file` (its filename names the file) "
    "and optional text fields `product_id` and `number_of_units`; same 100 MB limit, same "
    "parsing, same response.",
)
async def create_file(ctx: Ctx) -> web.StreamResponse:
    if ctx.body is None:
        return await _create_from_form(ctx)
    return created(await FileService(ctx.farm).create(ctx.body))


async def _create_from_form(ctx: Ctx) -> web.StreamResponse:
    request = ctx.request
    admin = FileAdmin(ctx.farm)
    fields: dict[str, str] = {}
    async with _drained_on_refusal(request, ctx.farm.settings.max_upload_bytes):
        try:
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    continue
                if part.name != "file":
                    await _form_field(part, fields)
                    continue
                name = validate(vol.Schema(safe_filename), part.filename or "", "file")
                key_id = ctx.key.id if ctx.key else None
                async with admin.staged(name, _chunks(part), None, key_id) as storage_key:
                    while (rest := await reader.next()) is not None:
                        if isinstance(rest, BodyPartReader):
                            await _form_field(rest, fields)
                    body = validate(_FORM, fields, "body")
                    data = await admin.files.create(
                        {"name": name, "storage_key": storage_key, **body}
                    )
                return created(data)
        except MULTIPART_ERRORS as err:
            raise BadRequest(f"Malformed multipart body: {err}") from None
    raise _missing_file()


async def _form_field(part: BodyPartReader, fields: dict[str, str]) -> None:
    """Keep a known text field (bounded); drop anything else."""
    if part.name not in ("product_id", "number_of_units"):
        await part.release()
        return
    value = await part.read_chunk(MAX_FORM_VALUE + 1)
    if len(value) > MAX_FORM_VALUE or await part.read_chunk(1):
        raise ValidationFailed(
            f"Invalid body: {part.name}: must be at most {MAX_FORM_VALUE} bytes",
            extra={"details": [{"field": part.name, "message": "is too long"}]},
        )
    fields[part.name] = value.decode("utf-8", errors="replace").strip()


@routes.delete(
    "/files/{id}",
    scope="write",
    summary="Delete a file",
    response=FILE_DELETED,
    errors=("FILE_NOT_FOUND", "FILE_IN_USE"),
    description="Removes the file, every version, its thumbnails and bytes. Refused with "
    "`409 FILE_IN_USE` while a queued or active job, or a kit part, uses it; finished jobs "
    "keep their history with `print_file_id` set to null. Products that named it as their "
    "print file forget it.",
)
async def delete_file(ctx: Ctx) -> web.StreamResponse:
    return ok(await FileAdmin(ctx.farm).delete(ctx.params["id"]))


@routes.get(
    "/files/{id}/download",
    scope="read",
    summary="Download the file's bytes",
    response_kind="print_file",
    errors=("FILE_NOT_FOUND",),
    description="The current version as an attachment with the file's name (range requests work).",
)
async def download_file(ctx: Ctx) -> web.StreamResponse:
    found = await FileAdmin(ctx.farm).download(ctx.params["id"])
    ascii_name = found.filename.encode("ascii", "replace").decode().replace("?", "_")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(found.filename)}"
    return web.FileResponse(
        found.path,
        headers={"Content-Type": found.content_type, "Content-Disposition": disposition},
    )


@routes.get(
    "/files/{id}",
    scope="read",
    summary="Get a file",
    errors=("FILE_NOT_FOUND",),
    response=FILE_WITH_VERSIONS,
)
async def get_file(ctx: Ctx) -> web.StreamResponse:
    """The file with its `versions[]` (newest first)."""
    return ok(await FileService(ctx.farm).get(ctx.params["id"]))


@routes.get(
    "/files/{id}/versions",
    scope="read",
    summary="List versions",
    errors=("FILE_NOT_FOUND",),
    response=[VERSION],
)
async def list_file_versions(ctx: Ctx) -> web.StreamResponse:
    """Ordered by `version_number`, newest first."""
    return ok(await FileService(ctx.farm).versions(ctx.params["id"]))


@routes.post(
    "/files/{id}/versions",
    scope="write",
    summary="Add a version",
    response=VERSION,
    body={
        vol.Required("storage_key"): text(500, 1),
        vol.Optional("notes"): nullable(text(500)),
        vol.Optional("set_as_current", default=True): bool,
    },
    status=201,
    errors=(
        "FILE_NOT_FOUND",
        "INVALID_STORAGE_KEY",
        "UPLOAD_MISSING",
        "UPLOAD_ALREADY_USED",
        "INVALID_FILE",
    ),
    description="The upload's extension must match the file's. With `set_as_current` (default) "
    "the file's metadata and thumbnail follow the new version.",
)
async def add_file_version(ctx: Ctx) -> web.StreamResponse:
    return created(await FileService(ctx.farm).add_version(ctx.params["id"], ctx.body))


@routes.put(
    "/files/{id}/versions/{version}/current",
    scope="write",
    summary="Make a version current",
    response=VERSION,
    errors=("FILE_NOT_FOUND", "VERSION_NOT_FOUND"),
    description="`version` is a version number (or a version id).",
)
async def set_current_file_version(ctx: Ctx) -> web.StreamResponse:
    return ok(await FileService(ctx.farm).set_current(ctx.params["id"], ctx.params["version"]))


@routes.get(
    "/files/{id}/thumbnail",
    scope="read",
    summary="Thumbnail image",
    response_kind="thumbnail",
    errors=("NO_THUMBNAIL", "FILE_NOT_FOUND"),
    description="Raw image bytes (PNG, or JPEG when the slicer wrote only JPEG).",
)
async def file_thumbnail(ctx: Ctx) -> web.StreamResponse:
    data, content_type = await FileService(ctx.farm).thumbnail(ctx.params["id"])
    return web.Response(
        body=data,
        content_type=content_type,
        headers={"Cache-Control": "public, max-age=86400"},
    )


@contextlib.asynccontextmanager
async def _drained_on_refusal(request: web.Request, limit: int) -> AsyncIterator[None]:
    """When an upload is refused part-way (too large, bad token), read and drop the
    rest of the body (up to ``limit`` bytes) so the client gets the error reply on a
    clean connection instead of a reset."""
    try:
        yield
    except DomainError:
        drained = 0
        while drained < limit and (chunk := await request.content.readany()):
            drained += len(chunk)
        raise


async def _chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(READ_CHUNK):
        yield chunk


def _missing_file() -> ValidationFailed:
    return ValidationFailed(
        "Invalid body: file: is required (multipart/form-data)",
        extra={"details": [{"field": "file", "message": "is required"}]},
    )
