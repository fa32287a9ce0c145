"""Upload tokens for print files: minted by ``FileService.issue_upload``, checked while the
bytes arrive, consumed when a file or version claims them; stale ones are purged."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import BadRequest, Unauthorized
from ..storage.tables.spine import upload_tokens
from ..timeutil import utcnow

#: expired, never-used upload tokens (and their bytes) are purged after this
STALE_UPLOAD_GRACE = timedelta(hours=24)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def live_token(
    conn: AsyncConnection, token: str, *, for_update: bool = False
) -> dict[str, Any]:
    query = select(upload_tokens).where(upload_tokens.c.token_hash == hash_token(token))
    if for_update:
        query = query.with_for_update()
    row = (await conn.execute(query)).mappings().first()
    if row is None:
        raise Unauthorized("Upload token is invalid", code="UPLOAD_TOKEN_INVALID")
    if row["expires_at"] <= utcnow():
        raise Unauthorized("Upload token has expired", code="UPLOAD_TOKEN_EXPIRED")
    return dict(row)


async def uploaded_token(conn: AsyncConnection, storage_key: str) -> dict[str, Any]:
    query = select(upload_tokens).where(upload_tokens.c.storage_key == storage_key)
    row = (await conn.execute(query)).mappings().first()
    if row is None:
        raise BadRequest(
            "storage_key was not issued by POST /files/upload-url (or was already used)",
            code="INVALID_STORAGE_KEY",
        )
    if row["uploaded_at"] is None:
        raise BadRequest("Nothing was uploaded for this storage_key", code="UPLOAD_MISSING")
    return dict(row)


async def consume_token(conn: AsyncConnection, token_hash: str) -> None:
    result = await conn.execute(
        delete(upload_tokens).where(upload_tokens.c.token_hash == token_hash)
    )
    if result.rowcount != 1:
        raise BadRequest("This upload was already used", code="UPLOAD_MISSING")


async def purge_stale_uploads(conn: AsyncConnection, now: datetime) -> list[str]:
    cutoff = now - STALE_UPLOAD_GRACE
    keys = list(
        (
            await conn.execute(
                select(upload_tokens.c.storage_key).where(upload_tokens.c.expires_at < cutoff)
            )
        ).scalars()
    )
    if keys:
        await conn.execute(delete(upload_tokens).where(upload_tokens.c.expires_at < cutoff))
    return keys
