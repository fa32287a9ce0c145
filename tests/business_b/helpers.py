"""Helpers for the operations tests (materials, wiki, worklist, analytics)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from apf_core.storage.tables.spine import events
from tests.api.conftest import Api

# a key lacking exactly the route's scope
WITHOUT = {"read": "write", "write": "read", "control": "read_write"}
BAD_KEYS = (
    (None, "UNAUTHORIZED"),
    ("malformed", "TOKEN_INVALID"),
    ("invalid", "TOKEN_INVALID"),
    ("revoked", "TOKEN_REVOKED"),
    ("expired", "TOKEN_EXPIRED"),
)


async def stored_events(client: Api, prefix: str) -> list[tuple[str, dict[str, Any]]]:
    """Stored events whose type starts with ``prefix``, oldest first."""
    async with client.farm.db.read() as conn:
        rows = (await conn.execute(
            select(events.c.type, events.c.payload).where(events.c.type.like(f"{prefix}%"))
            .order_by(events.c.id)
        )).all()
    return [(t, p) for t, p in rows]


async def check_auth(client: Api, method: str, path: str, scope: str, body: Any = None) -> None:
    """Bad keys give 401 with their code; a key without ``scope`` gives 403 INSUFFICIENT_SCOPE."""
    for key, code in BAD_KEYS:
        reply = await client.request(method, path, key=key, json=body)
        assert reply.status == 401, (method, path, key, reply.body)
        assert reply.code == code
    reply = await client.request(method, path, key=WITHOUT[scope], json=body)
    assert reply.status == 403, (method, path, reply.body)
    assert reply.code == "INSUFFICIENT_SCOPE"
    assert reply.body["error"] == f"API key missing required scope: {scope}"


def validation_fields(reply: Any) -> set[str]:
    """Field names a 400 VALIDATION_ERROR reply complains about."""
    assert reply.status == 400, reply.body
    assert reply.code == "VALIDATION_ERROR", reply.body
    return {d["field"] for d in reply.body.get("details", [])}
