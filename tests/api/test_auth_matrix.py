"""Auth and scope rules, checked on every authenticated route the server has."""

from __future__ import annotations

import re
import uuid

import pytest

from apf_core.api.app import all_routes
from apf_core.errors import Unauthorized

ROUTES = [r for r in all_routes() if r.auth]
# a key that lacks exactly the route's scope
WITHOUT = {"read": "write", "write": "read", "control": "read_write"}


def concrete(path: str) -> str:
    return re.sub(r"{\w+}", str(uuid.uuid4()), path)


def route_id(route) -> str:
    return f"{route.method} {route.path}"


async def test_every_route_rejects_bad_keys(empty_api) -> None:
    """One server, every authenticated route, every kind of bad key."""
    failures = []
    for route in ROUTES:
        path = concrete(route.path)
        for key, code in (
            (None, "UNAUTHORIZED"),
            ("malformed", "TOKEN_INVALID"),
            ("invalid", "TOKEN_INVALID"),
            ("revoked", "TOKEN_REVOKED"),
            ("expired", "TOKEN_EXPIRED"),
        ):
            reply = await empty_api.request(route.method, path, key=key, json={})
            body = reply.body if isinstance(reply.body, dict) else {}
            expected = {"success": False, "code": code, "error": body.get("error"),
                        "message": body.get("error")}
            if reply.status != 401 or body != expected or not body.get("error"):
                failures.append((route_id(route), key, reply.status, reply.body))
    assert not failures, failures


async def test_every_route_enforces_its_scope(empty_api) -> None:
    """A key without the route's scope gets 403; a key with it gets past auth."""
    failures = []
    for route in (r for r in ROUTES if r.scope):
        path = concrete(route.path)
        reply = await empty_api.request(route.method, path, key=WITHOUT[route.scope], json={})
        message = f"API key missing required scope: {route.scope}"
        if (
            reply.status != 403
            or reply.body.get("code") != "INSUFFICIENT_SCOPE"
            or reply.body.get("error") != message
            or "X-RateLimit-Limit" not in reply.headers
        ):
            failures.append((route_id(route), "without scope", reply.status, reply.body))
        granted = await empty_api.request(route.method, path, key="all", json={})
        if granted.status in (401, 403) or granted.status >= 500:
            failures.append((route_id(route), "with scope", granted.status, granted.body))
    assert not failures, failures


def test_scopes_follow_the_reference_rule() -> None:
    for route in ROUTES:
        # webhooks hold signing secrets and delivery logs: the events issue puts all of it under write
        if route.method == "GET" and route.scope and not route.path.startswith("/webhooks"):
            assert route.scope == "read", route_id(route)
    cancel = next(r for r in ROUTES if r.path == "/jobs/{id}/cancel")
    assert cancel.scope == "control"


async def test_legacy_read_scope_aliases(empty_api) -> None:
    """Legacy per-resource scopes act as `read` for their own family only."""
    from sqlalchemy import update

    from apf_core.api.app import KEYS
    from apf_core.storage.tables.spine import api_keys

    keys = empty_api.server.app[KEYS]
    key, record = await keys.create("legacy", ["read"])
    async with empty_api.farm.db.begin() as conn:
        await conn.execute(
            update(api_keys).where(api_keys.c.id == record["id"]).values(scopes=["printers:read"])
        )
    assert (await empty_api.get("/printers", key=key)).status == 200
    assert (await empty_api.get("/jobs", key=key)).code == "INSUFFICIENT_SCOPE"


async def test_revocation_is_immediate(empty_api) -> None:
    from apf_core.api.app import KEYS

    keys = empty_api.server.app[KEYS]
    key, record = await keys.create("soon revoked", ["read"])
    assert (await empty_api.get("/printers", key=key)).status == 200
    await keys.revoke(record["id"])
    reply = await empty_api.get("/printers", key=key)
    assert reply.status == 401 and reply.code == "TOKEN_REVOKED"


async def test_a_key_verified_from_memory_still_expires(empty_api, monkeypatch) -> None:
    """A key checked a moment ago is answered from memory, without the database; its expiry
    still holds on that path."""
    from datetime import timedelta

    from apf_core.api.app import KEYS
    from apf_core.services import keys as keys_module

    keys = empty_api.server.app[KEYS]
    key, _ = await keys.create("short", ["read"], expires_in_days=1)
    header = f"Bearer {key}"
    assert keys.verified(header) is None  # not looked up yet
    looked_up = await keys.verify(header)
    assert keys.verified(header) == looked_up
    later = keys_module.utcnow() + timedelta(days=2)
    monkeypatch.setattr(keys_module, "utcnow", lambda: later)
    with pytest.raises(Unauthorized) as refused:
        keys.verified(header)
    assert refused.value.code == "TOKEN_EXPIRED"


async def test_only_the_hash_is_stored(empty_api) -> None:
    import hashlib

    from sqlalchemy import select

    from apf_core.storage.tables.spine import api_keys

    secret = empty_api.keys["all"]
    async with empty_api.farm.db.read() as conn:
        rows = (await conn.execute(select(api_keys))).mappings().all()
    dumped = repr([dict(r) for r in rows])
    assert secret not in dumped and secret[9:] not in dumped
    assert hashlib.sha256(secret.encode()).hexdigest() in dumped
