"""Webhook CRUD, validation, SSRF refusals and the scope matrix."""

from __future__ import annotations

import uuid

import pytest

from tests.api.conftest import Api

from .conftest import Receiver

PUBLIC_FIELDS = {
    "id", "url", "events", "enabled", "created_at", "updated_at", "disabled_reason",
    "failure_count",
}


async def test_crud_and_secret_shown_once(api: Api, receiver: Receiver) -> None:
    body = {"url": receiver.url, "events": ["job.*"]}
    reply = await api.post("/webhooks", json=body, key="write")
    assert reply.status == 201, reply.body
    hook = reply.data
    assert set(hook) == PUBLIC_FIELDS | {"secret"}
    assert hook["secret"].startswith("whsec_")
    assert len(hook["secret"]) > 30
    assert hook["events"] == ["job.*"]
    assert hook["enabled"] is True
    assert hook["failure_count"] == 0
    assert hook["disabled_reason"] is None
    got = await api.get(f"/webhooks/{hook['id']}", key="write")
    assert set(got.data) == PUBLIC_FIELDS
    listed = await api.get("/webhooks", key="write")
    assert [h["id"] for h in listed.data] == [hook["id"]]
    assert "secret" not in listed.data[0]
    assert listed.body["meta"]["count"] == 1

    patched = await api.patch(
        f"/webhooks/{hook['id']}", json={"events": ["printer.*", "job.completed"],
                                         "secret": "s" * 20}, key="write",
    )
    assert patched.status == 200
    assert "secret" not in patched.data
    assert patched.data["events"] == ["printer.*", "job.completed"]
    disabled = await api.patch(f"/webhooks/{hook['id']}", json={"enabled": False}, key="write")
    assert disabled.data["enabled"] is False
    assert disabled.data["disabled_reason"] == "Disabled by a user"
    enabled = await api.patch(f"/webhooks/{hook['id']}", json={"enabled": True}, key="write")
    assert enabled.data["enabled"] is True
    assert enabled.data["disabled_reason"] is None

    deleted = await api.delete(f"/webhooks/{hook['id']}", key="write")
    assert deleted.data == {"id": hook["id"], "deleted": True}
    gone = await api.get(f"/webhooks/{hook['id']}", key="write")
    assert gone.status == 404
    assert gone.code == "WEBHOOK_NOT_FOUND"


async def test_given_secret_and_default_events(api: Api, receiver: Receiver) -> None:
    secret = "my-own-secret-123456"
    reply = await api.post("/webhooks", json={"url": receiver.url, "secret": secret}, key="write")
    assert "secret" not in reply.data  # a secret the client chose is never echoed
    assert secret not in str(reply.body)
    assert reply.data["events"] == ["*"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "url"),
        ({"url": ""}, "url"),
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "file:///etc/passwd"}, "url"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": "http://"}, "url"),
        ({"url": "http://127.0.0.1:99999/x"}, "url"),
        ({"url": "http://127.0.0.1/x", "events": []}, "events"),
        ({"url": "http://127.0.0.1/x", "events": ["job.**"]}, "events"),
        ({"url": "http://127.0.0.1/x", "events": "job.*"}, "events"),
        ({"url": "http://127.0.0.1/x", "secret": "short"}, "secret"),
        ({"url": "http://127.0.0.1/x", "enabled": "yes"}, "enabled"),
        ({"url": "http://127.0.0.1/x", "colour": "red"}, "colour"),
    ],
)
async def test_validation(api: Api, body: dict, field: str) -> None:
    reply = await api.post("/webhooks", json=body, key="write")
    assert reply.status == 400, reply.body
    assert reply.code == "VALIDATION_ERROR"
    assert field in {d["field"] for d in reply.body["details"]}


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://169.254.10.1/",
        "http://[fe80::1]/hook",
        "http://[::ffff:169.254.169.254]/",
        "http://100.100.100.200/",
        "http://[fd00:ec2::254]/",
        "http://224.0.0.1/",
        "http://[ff02::1]/",
        "http://0.0.0.0:8123/",
        "http://[::]/",
        "http://255.255.255.255/",
        "http://metadata.google.internal/computeMetadata/v1/",
    ],
)
async def test_ssrf_targets_are_refused(api: Api, url: str) -> None:
    reply = await api.post("/webhooks", json={"url": url}, key="write")
    assert reply.status == 400, reply.body
    assert reply.code == "WEBHOOK_URL_BLOCKED"
    hook = (await api.post("/webhooks", json={"url": "http://127.0.0.1:1/x"}, key="write")).data
    patched = await api.patch(f"/webhooks/{hook['id']}", json={"url": url}, key="write")
    assert patched.status == 400
    assert patched.code == "WEBHOOK_URL_BLOCKED"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8123/api/webhook/apf",
        "http://localhost:8123/api/webhook/apf",
        "http://192.168.1.20:8123/api/webhook/apf",
        "http://10.0.0.5/hook",
        "http://172.16.4.4/hook",
        "http://100.101.102.103/hook",  # Tailscale
        "https://[::1]:8443/hook",
        "http://homeassistant.invalid:8123/hook",  # does not resolve yet: accepted
    ],
)
async def test_lan_and_loopback_targets_are_allowed(api: Api, url: str) -> None:
    reply = await api.post("/webhooks", json={"url": url}, key="write")
    assert reply.status == 201, reply.body


ROUTES = [
    ("GET", "/webhooks"),
    ("POST", "/webhooks"),
    ("GET", "/webhooks/{id}"),
    ("PATCH", "/webhooks/{id}"),
    ("DELETE", "/webhooks/{id}"),
    ("POST", "/webhooks/{id}/test"),
    ("GET", "/webhooks/{id}/deliveries"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize(
    ("key", "status", "code"),
    [
        ("read", 403, "INSUFFICIENT_SCOPE"),
        ("control", 403, "INSUFFICIENT_SCOPE"),
        (None, 401, "UNAUTHORIZED"),
        ("malformed", 401, "TOKEN_INVALID"),
        ("invalid", 401, "TOKEN_INVALID"),
        ("revoked", 401, "TOKEN_REVOKED"),
        ("expired", 401, "TOKEN_EXPIRED"),
    ],
)
async def test_scope_matrix_refusals(
    api: Api, method: str, path: str, key: str | None, status: int, code: str
) -> None:
    reply = await api.request(method, path.replace("{id}", str(uuid.uuid4())), key=key, json={})
    assert reply.status == status, reply.body
    assert reply.code == code
    if code == "INSUFFICIENT_SCOPE":
        assert reply.body["error"] == "API key missing required scope: write"


@pytest.mark.parametrize(("method", "path"), [r for r in ROUTES if "{id}" in r[1]])
@pytest.mark.parametrize("key", ["write", "read_write", "all"])
async def test_write_keys_reach_the_handler(api: Api, method: str, path: str, key: str) -> None:
    reply = await api.request(method, path.replace("{id}", str(uuid.uuid4())), key=key, json={})
    assert reply.status == 404, reply.body
    assert reply.code == "WEBHOOK_NOT_FOUND"


async def test_deliveries_query_validation(api: Api, receiver: Receiver) -> None:
    hook = (await api.post("/webhooks", json={"url": receiver.url}, key="write")).data
    bad = await api.get(f"/webhooks/{hook['id']}/deliveries", key="write",
                        params={"status": "lost"})
    assert bad.status == 400
    assert bad.code == "VALIDATION_ERROR"
    empty = await api.get(f"/webhooks/{hook['id']}/deliveries", key="write",
                          params={"status": "pending"})
    assert empty.data == []
