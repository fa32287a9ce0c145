"""GET /server describes the calling key (id, name, scopes, expires_at), never its secret."""

from __future__ import annotations

from datetime import timedelta

from apf_core.services.keys import KeyService, hash_key
from apf_core.timeutil import utcnow

from .conftest import Api


async def test_server_names_the_calling_keys_scopes(api: Api) -> None:
    for name, scopes in {
        "read": ["read"],
        "read_write": ["read", "write"],
        "all": ["read", "write", "control"],
    }.items():
        reply = await api.get("/server", key=name)
        assert reply.status == 200
        key = reply.data["key"]
        assert key["name"] == name
        assert key["scopes"] == scopes
        assert key["expires_at"] is None
        assert isinstance(key["id"], str) and key["id"]
        text = reply.body if isinstance(reply.body, bytes) else str(reply.body)
        assert api.keys[name] not in str(text)
        assert hash_key(api.keys[name]) not in str(text)


async def test_server_key_expiry_is_reported(api: Api) -> None:
    secret, record = await KeyService(api.farm.db).create("soon", ["read"], expires_in_days=3)
    reply = await api.get("/server", key=secret)
    assert reply.status == 200
    assert reply.data["key"]["id"] == record["id"]
    expires = reply.data["key"]["expires_at"]
    assert expires is not None and expires > (utcnow() + timedelta(days=2)).isoformat()[:10]


async def test_server_needs_a_key(api: Api) -> None:
    reply = await api.get("/server", key=None)
    assert reply.status == 401
