"""Upload tokens for print files: minted by ``FileService.issue_upload``, checked while the
bytes arrive, marked used when a file or version claims them (a reused token or storage_key
is told so); expired ones are purged."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
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
    if row["used_at"] is not None:
        raise Unauthorized(
            f"Upload token was already used (file {row['file_id']} was made from it); "
            "ask POST /files/upload-url for a new one",
            code="UPLOAD_TOKEN_USED",
        )
    if row["expires_at"] <= utcnow():
        raise Unauthorized("Upload token has expired", code="UPLOAD_TOKEN_EXPIRED")
    return dict(row)


async def uploaded_token(conn: AsyncConnection, storage_key: str) -> dict[str, Any]:
    query = select(upload_tokens).where(upload_tokens.c.storage_key == storage_key)
    row = (await conn.execute(query)).mappings().first()
    if row is None:
        raise BadRequest(
            "storage_key was not issued by POST /files/upload-url", code="INVALID_STORAGE_KEY"
        )
    if row["used_at"] is not None:
        raise _already_used(row)
    if row["uploaded_at"] is None:
        raise BadRequest("Nothing was uploaded for this storage_key", code="UPLOAD_MISSING")
    return dict(row)


def _already_used(row: Any) -> BadRequest:
    return BadRequest(
        f"storage_key: this upload was already used (file {row['file_id']}); upload again "
        "with a new POST /files/upload-url",
        code="UPLOAD_ALREADY_USED",
        field="storage_key",
    )


async def consume_token(conn: AsyncConnection, token: dict[str, Any]) -> None:
    """Mark the token used; only one claimant wins (compare-and-set on ``used_at``)."""
    result = await conn.execute(
        update(upload_tokens)
        .where(
            upload_tokens.c.token_hash == token["token_hash"], upload_tokens.c.used_at.is_(None)
        )
        .values(used_at=utcnow())
    )
    if result.rowcount != 1:
        raise _already_used(token)


async def purge_stale_uploads(conn: AsyncConnection, now: datetime) -> list[str]:
    """Forget tokens expired for longer than the grace; the staged bytes of those never
    used are returned for removal (a used token's bytes were claimed already)."""
    cutoff = now - STALE_UPLOAD_GRACE
    expired = upload_tokens.c.expires_at < cutoff
    keys = list(
        (
            await conn.execute(
                select(upload_tokens.c.storage_key).where(
                    expired, upload_tokens.c.used_at.is_(None)
                )
            )
        ).scalars()
    )
    await conn.execute(delete(upload_tokens).where(expired))
    return keys
