"""No secret the tests create appears in any log line (DEBUG included)."""

from __future__ import annotations

import asyncio
import logging
import uuid

from apf_core.net.redact import RedactingFilter


async def test_secrets_never_reach_the_log(api, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="aiosqlite")  # as `apf serve -v` sets it
    caplog.handler.addFilter(RedactingFilter())  # as `apf serve` installs on its handlers
    password = "pw-" + uuid.uuid4().hex
    hook_secret = "whsec-" + uuid.uuid4().hex
    secrets = [password, hook_secret, *api.keys.values()]
    hook = await api.post(
        "/webhooks", json={"url": "http://127.0.0.1:1/hook", "secret": hook_secret}, key="write"
    )
    assert hook.status == 201, hook.body
    await api.post(f"/webhooks/{hook.data['id']}/test", key="write")
    for protocol in ("moonraker", "octoprint"):
        body = {
            "name": f"leaky {protocol}",
            "protocol": protocol,
            "connection": {"url": f"http://maker:{password}@127.0.0.1:1", "api_key": password},
        }
        reply = await api.post("/printers", json=body, key="write")
        assert reply.status in (201, 400), reply.body
        assert password not in str(reply.body)
    hub = await api.post("/hubs", json={"name": "logged"}, key="write")
    secrets.append(hub.data["token"])
    await asyncio.sleep(1.5)  # drivers try to connect and log their failures
    for secret in secrets:
        if len(secret) > 8:
            assert secret not in caplog.text, f"a secret reached the log: {secret[:6]}…"
    assert "maker:" not in caplog.text
