"""ApfClient against a fake server: requests, envelopes, errors, timeouts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import aiohttp
import pytest
from aiohttp import web

from apf_client import (
    APFAuthenticationError,
    ApfClient,
    APFConnectionError,
    APFError,
    APFInsufficientScopeError,
    APFNotFoundError,
    APFRateLimitError,
    APFResponseError,
)

from .conftest import KEY, FakeServer

PRINTER = {
    "id": "p1",
    "name": "Prusa",
    "model": "MK4",
    "status": "idle",
    "is_active": True,
    "capabilities": ["light"],
    "in_maintenance": False,
    "awaiting_bed_clear": True,
}
JOB = {
    "id": "j1",
    "status": "queued",
    "printer_id": None,
    "print_file_id": "f1",
    "file_name": "a.gcode",
    "time_submitted": "2026-11-21T10:00:00Z",
}


async def test_server_info_and_auth_header(client: ApfClient, fake_server: FakeServer) -> None:
    fake_server.reply("GET", "/server", {"server_id": "s-1", "name": "Farm", "version": "0.1.0"})
    info = await client.server_info()
    assert (info.server_id, info.name, info.version) == ("s-1", "Farm", "0.1.0")
    assert fake_server.requests[0].headers["Authorization"] == f"Bearer {KEY}"


async def test_base_url_with_path_prefix(
    fake_server: FakeServer, session: aiohttp.ClientSession
) -> None:
    fake_server.responses[("GET", "/apf/public/v1/printers")] = (200, {"success": True, "data": []})
    client = ApfClient(session, fake_server.url + "/apf/", KEY)
    assert await client.printers() == []
    assert fake_server.requests[0].path == "/apf/public/v1/printers"


async def test_printers_and_status(client: ApfClient, fake_server: FakeServer) -> None:
    fake_server.reply("GET", "/printers", [PRINTER, "junk"])
    fake_server.reply("GET", "/printers/p1", PRINTER)
    fake_server.reply(
        "GET",
        "/printers/p1/status",
        {
            "printer_id": "p1",
            "status": "printing",
            "hub_online": True,
            "progress": "12.5",
            "nozzle_temp": 210,
            "layer_num": 3.0,
            "last_telemetry_at": "2026-11-21T12:00:00Z",
            "light_on": False,
            "awaiting_bed_clear": "false",
            "bed_temp": "hot",
        },
    )
    printers = await client.printers()
    assert [p.id for p in printers] == ["p1"]
    printer = await client.printer("p1")
    assert printer.has_capability("light") is True
    assert printer.awaiting_bed_clear is True
    status = await client.printer_status("p1")
    assert status.progress == 12.5
    assert status.layer_num == 3
    assert status.bed_temp is None  # mistyped optional field -> None
    assert status.bed_clear_required is False
    assert status.last_telemetry_at == datetime(2026, 11, 21, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("call", "method", "path", "body"),
    [
        (lambda c: c.pause("p1"), "POST", "/printers/p1/control", {"action": "pause"}),
        (lambda c: c.resume("p1"), "POST", "/printers/p1/control", {"action": "resume"}),
        (lambda c: c.stop("p1"), "POST", "/printers/p1/control", {"action": "stop"}),
        (
            lambda c: c.clear_bed("p1"),
            "POST",
            "/printers/p1/control",
            {"action": "clear_bed", "result": "success"},
        ),
        (
            lambda c: c.clear_bed("p1", "failed"),
            "POST",
            "/printers/p1/control",
            {"action": "clear_bed", "result": "failed"},
        ),
        (lambda c: c.set_light("p1", True), "POST", "/printers/p1/light", {"state": True}),
        (
            lambda c: c.set_temperature("p1", "bed", 60),
            "POST",
            "/printers/p1/temperature",
            {"heater": "bed", "target": 60},
        ),
    ],
)
async def test_printer_commands(
    client: ApfClient, fake_server: FakeServer, call, method: str, path: str, body: dict
) -> None:
    fake_server.reply(method, path, {"printer_id": "p1", "command_id": "c1", "status": "paused"})
    result = await call(client)
    assert result.printer_id == "p1"
    assert result.command_id == "c1"
    assert fake_server.requests[0].body == body


async def test_control_result_only_for_clear_bed(client: ApfClient) -> None:
    with pytest.raises(ValueError, match="clear_bed"):
        await client.control("p1", "pause", result="failed")


async def test_maintenance(client: ApfClient, fake_server: FakeServer) -> None:
    fake_server.reply("PUT", "/printers/p1/maintenance", {**PRINTER, "in_maintenance": True})
    printer = await client.set_maintenance("p1", True, "nozzle swap")
    assert printer.in_maintenance is True
    assert fake_server.requests[0].body == {
        "in_maintenance": True,
        "maintenance_type": "nozzle swap",
    }


async def test_jobs(client: ApfClient, fake_server: FakeServer) -> None:
    fake_server.reply("GET", "/jobs", [JOB])
    fake_server.reply("GET", "/jobs/history", [{**JOB, "status": "failed"}])
    fake_server.reply("GET", "/jobs/j1", JOB)
    fake_server.reply("POST", "/jobs", JOB)
    for action in ("start", "pause", "resume", "cancel", "retry"):
        fake_server.reply("POST", f"/jobs/j1/{action}", {**JOB, "status": action})
    jobs = await client.jobs(status="queued", limit=10, offset=5)
    assert jobs[0].time_submitted == datetime(2026, 11, 21, 10, tzinfo=UTC)
    assert fake_server.requests[-1].query == {"status": "queued", "limit": "10", "offset": "5"}
    since = datetime(2026, 11, 21, tzinfo=UTC)
    assert (await client.jobs_history(since=since))[0].status == "failed"
    assert fake_server.requests[-1].query["from"] == since.isoformat()
    assert (await client.job("j1")).file_name == "a.gcode"
    await client.enqueue_job("f1", printer_id="p1", number_of_units=2, color="Black")
    assert fake_server.requests[-1].body == {
        "print_file_id": "f1",
        "number_of_units": 2,
        "printer_id": "p1",
        "color": "Black",
    }
    assert (await client.start_job("j1")).status == "start"
    assert (await client.pause_job("j1")).status == "pause"
    assert (await client.resume_job("j1")).status == "resume"
    assert (await client.cancel_job("j1")).status == "cancel"
    assert (await client.retry_job("j1")).status == "retry"
    assert (await client.job("j1")).as_dict()["time_submitted"] == "2026-11-21T10:00:00+00:00"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            {
                "by_status": {"queued": 3, "printing": 2},
                "summary": {"queued": 3, "active": 2, "completed_today": 4, "failed_today": 1},
            },
            (3, 2, 4, 1),
        ),
        ({"summary": {"queued": 1, "active": 5, "completed_today": 0}}, (1, 5, 0, None)),
        ({"queued": 7, "by_status": {"printing": 1}}, (7, 1, 0, None)),
    ],
)
async def test_job_stats_shapes(
    client: ApfClient, fake_server: FakeServer, payload: dict, expected: tuple
) -> None:
    fake_server.reply("GET", "/jobs/stats", payload)
    stats = await client.job_stats()
    assert (stats.queued, stats.printing, stats.completed_today, stats.failed_today) == expected


async def test_stock_and_orders(client: ApfClient, fake_server: FakeServer) -> None:
    fake_server.reply(
        "GET",
        "/inventory",
        [
            {
                "id": "fg1",
                "sku": "A",
                "ready_stock": 2,
                "low_stock_threshold": 5,
                "status": "low_stock",
            }
        ],
    )
    fake_server.reply(
        "GET",
        "/materials/filament",
        [{"id": "s1", "type": "PLA", "brand": "Acme", "color": "Red", "remaining_grams": 12.5}],
    )
    fake_server.reply(
        "POST",
        "/inventory/fg1/adjust",
        {
            "id": "fg1",
            "previous_stock": 2,
            "adjustment": 3,
            "new_stock": 5,
            "new_status": "in_stock",
            "is_low_stock": False,
        },
    )
    fake_server.reply(
        "POST",
        "/orders/o1/fulfill",
        {"id": "o1", "status": "shipped", "fulfillment_errors": ["KIT_NOT_ASSEMBLED"]},
    )
    fake_server.reply("GET", "/hubs", [{"id": "h1", "name": "Local", "is_online": True}])
    item = (await client.inventory(low_stock=True))[0]
    assert item.is_low
    assert fake_server.requests[-1].query == {"low_stock": "true"}
    spool = (await client.filaments())[0]
    assert spool.label == "Acme PLA Red"
    assert spool.remaining_grams == 12.5
    result = await client.adjust_inventory("fg1", 3, reason="returned", notes="box")
    assert result.new_stock == 5
    assert fake_server.requests[-1].body == {"adjustment": 3, "reason": "returned", "notes": "box"}
    with pytest.raises(ValueError, match="reason"):
        await client.adjust_inventory("fg1", 1, reason="print_completion")
    order = await client.fulfill_order("o1", tracking_number="1Z")
    assert order.fulfillment_errors == ("KIT_NOT_ASSEMBLED",)
    assert fake_server.requests[-1].body == {"tracking_number": "1Z"}
    assert (await client.hubs())[0].is_online is True


async def test_thumbnail(client: ApfClient, fake_server: FakeServer) -> None:
    fake_server.reply("GET", "/files/f1/thumbnail", b"\x89PNG", envelope=False)
    assert await client.file_thumbnail("f1") == b"\x89PNG"
    assert await client.file_thumbnail("missing") is None
    fake_server.reply(
        "GET",
        "/files/f2/thumbnail",
        {"success": False, "code": "TOKEN_REVOKED", "error": "revoked"},
        status=401,
    )
    with pytest.raises(APFAuthenticationError):
        await client.file_thumbnail("f2")
    fake_server.reply("GET", "/files/f3/thumbnail", "oops", status=500)
    with pytest.raises(APFError) as info:
        await client.file_thumbnail("f3")
    assert info.value.status == 500


@pytest.mark.parametrize(
    ("status", "body", "headers", "error", "code"),
    [
        (
            401,
            {"success": False, "code": "TOKEN_EXPIRED", "error": "expired"},
            {},
            APFAuthenticationError,
            "TOKEN_EXPIRED",
        ),
        (401, None, {}, APFAuthenticationError, "UNAUTHORIZED"),
        (
            403,
            {
                "success": False,
                "code": "INSUFFICIENT_SCOPE",
                "error": "API key missing required scope: read",
            },
            {},
            APFInsufficientScopeError,
            "INSUFFICIENT_SCOPE",
        ),
        (
            404,
            {
                "success": False,
                "error": {"code": "PRINTER_NOT_FOUND", "message": "Printer not found"},
            },
            {},
            APFNotFoundError,
            "PRINTER_NOT_FOUND",
        ),
        (
            429,
            {"success": False, "code": "RATE_LIMITED", "error": "slow down"},
            {"Retry-After": "7"},
            APFRateLimitError,
            "RATE_LIMITED",
        ),
        (
            429,
            {"success": False, "code": "RATE_LIMITED", "error": "slow down"},
            {"Retry-After": "soon"},
            APFRateLimitError,
            "RATE_LIMITED",
        ),
        (
            503,
            {"success": False, "code": "HUB_OFFLINE", "error": "Printer hub is not connected"},
            {},
            APFError,
            "HUB_OFFLINE",
        ),
        (500, "<html>", {}, APFError, None),
    ],
)
async def test_error_mapping(
    client: ApfClient,
    fake_server: FakeServer,
    status: int,
    body,
    headers: dict,
    error: type[APFError],
    code: str | None,
) -> None:
    async def handler(_request: web.Request) -> web.Response:
        if isinstance(body, str) or body is None:
            return web.Response(status=status, text=body or "", headers=headers)
        return web.json_response(body, status=status, headers=headers)

    fake_server.handle("GET", "/printers", handler)
    with pytest.raises(error) as info:
        await client.printers()
    assert type(info.value) is error
    assert info.value.code == code
    if status == 429:
        assert info.value.retry_after == (7.0 if headers["Retry-After"] == "7" else None)
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        assert str(info.value) == body["error"]


@pytest.mark.parametrize(
    "payload",
    [b"not json", b'{"success": false}', b'{"data": []}', b"[]"],
)
async def test_malformed_success(
    client: ApfClient, fake_server: FakeServer, payload: bytes
) -> None:
    fake_server.reply("GET", "/printers", payload, envelope=False)
    with pytest.raises(APFResponseError):
        await client.printers()


async def test_wrong_data_shapes(client: ApfClient, fake_server: FakeServer) -> None:
    fake_server.reply("GET", "/printers", {"id": "p1"})
    with pytest.raises(APFResponseError, match="list"):
        await client.printers()
    fake_server.reply("GET", "/server", [])
    with pytest.raises(APFResponseError, match="object"):
        await client.server_info()
    fake_server.reply("GET", "/server", {"name": "no id"})
    with pytest.raises(APFResponseError, match="server_id"):
        await client.server_info()
    fake_server.reply("POST", "/jobs/j1/start", "ok")
    with pytest.raises(APFResponseError, match="object"):
        await client.start_job("j1")


async def test_timeout(fake_server: FakeServer, session: aiohttp.ClientSession) -> None:
    async def slow(_request: web.Request) -> web.Response:
        await asyncio.sleep(1)
        return web.json_response({"success": True, "data": []})

    fake_server.handle("GET", "/printers", slow)
    client = ApfClient(session, fake_server.url, KEY, request_timeout=0.05)
    with pytest.raises(APFConnectionError, match="timeout"):
        await client.printers()
    fake_server.handle("GET", "/files/f1/thumbnail", slow)
    with pytest.raises(APFConnectionError, match="timeout"):
        await client.file_thumbnail("f1")


async def test_connection_refused(session: aiohttp.ClientSession, unused_tcp_port: int) -> None:
    client = ApfClient(session, f"http://127.0.0.1:{unused_tcp_port}", KEY)
    with pytest.raises(APFConnectionError, match="cannot reach"):
        await client.printers()
    with pytest.raises(APFConnectionError, match="cannot reach"):
        await client.file_thumbnail("f1")


async def test_closed_session(fake_server: FakeServer) -> None:
    session = aiohttp.ClientSession()
    await session.close()
    client = ApfClient(session, fake_server.url, KEY)
    with pytest.raises(APFConnectionError, match="closed"):
        await client.printers()
    with pytest.raises(APFConnectionError, match="closed"):
        await client.file_thumbnail("f1")
    with pytest.raises(APFConnectionError, match="closed"):
        async for _ in client.events():
            pass
