"""The envelope holds for every failure: unknown routes, methods, bodies, crashes."""

from __future__ import annotations

import aiohttp
import pytest


def assert_envelope(reply, status: int, code: str) -> None:
    assert reply.status == status, reply.body
    assert isinstance(reply.body, dict), reply.body
    assert reply.body["success"] is False and reply.body["code"] == code
    assert isinstance(reply.body["error"], str) and reply.body["error"]
    assert "Traceback" not in reply.body["error"]


async def test_unknown_route(api) -> None:
    assert_envelope(await api.get("/nope", key="read"), 404, "NOT_FOUND")
    async with api.session.get(api.server.url + "/elsewhere") as resp:
        assert resp.status == 404 and (await resp.json())["code"] == "NOT_FOUND"


async def test_what_aiohttp_answers_itself_is_an_envelope_of_the_right_length(api) -> None:
    """No route, a handler that raises aiohttp's 404 (a docs asset), a method the path does not
    take: each an envelope whose Content-Length is its own, so a keep-alive connection carries
    the next request on."""
    import asyncio
    from urllib.parse import urlsplit

    import orjson

    parts = urlsplit(api.server.url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        for method, path, status, code in (
            ("GET", "/elsewhere", 404, "NOT_FOUND"),
            ("GET", "/public/v1/docs/assets/missing.js", 404, "NOT_FOUND"),
            ("DELETE", "/public/v1/health", 405, "METHOD_NOT_ALLOWED"),
            ("GET", "/public/v1/health", 200, None),
        ):
            writer.write(f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            head = (await reader.readuntil(b"\r\n\r\n")).decode()
            assert head.startswith(f"HTTP/1.1 {status} "), (path, head)
            fields = dict(line.lower().split(": ", 1) for line in head.split("\r\n")[1:] if line)
            assert fields["content-type"].startswith("application/json"), (path, head)
            body = orjson.loads(await reader.readexactly(int(fields["content-length"])))
            assert body.get("code") == code and body["success"] is (code is None)
    finally:
        writer.close()


async def test_a_crash_outside_any_route_is_an_envelope(api, monkeypatch) -> None:
    from apf_core.api import docs_ui

    monkeypatch.setattr(docs_ui, "ASSETS", None)  # the asset handler now fails with a TypeError
    async with api.session.get(api.server.api + "/docs/assets/x.js") as resp:
        assert resp.status == 500 and resp.content_type == "application/json"
        body = await resp.json()
    assert body["code"] == "INTERNAL_ERROR" and "Traceback" not in body["error"]


async def test_wrong_method(api) -> None:
    reply = await api.request("PUT", "/printers", key="all", json={})
    assert_envelope(reply, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in reply.headers["Allow"]


@pytest.mark.parametrize("raw", [b"{not json", b"[1,2]", b'"text"', b"\xff\xfe"])
async def test_malformed_json(api, raw) -> None:
    reply = await api.post(
        "/printers", data=raw, key="write", headers={"Content-Type": "application/json"}
    )
    assert_envelope(reply, 400, "VALIDATION_ERROR")


async def test_oversized_body(api) -> None:
    reply = await api.post(
        "/printers",
        data=b"{" + b" " * (2 * 1024 * 1024) + b"}",
        key="write",
        headers={"Content-Type": "application/json"},
    )
    assert_envelope(reply, 413, "PAYLOAD_TOO_LARGE")


async def test_unexpected_exception_is_logged_not_leaked(api, monkeypatch, caplog) -> None:
    from apf_core.services.printers import PrinterService

    async def explode(self, **kwargs):
        raise RuntimeError("secret internals at /srv/apf")

    monkeypatch.setattr(PrinterService, "list", explode)
    reply = await api.get("/printers", key="read")
    assert_envelope(reply, 500, "INTERNAL_ERROR")
    assert "secret" not in repr(reply.body) and "/srv" not in repr(reply.body)
    assert "secret internals" in caplog.text


async def test_validation_names_every_field(api) -> None:
    reply = await api.post(
        "/printers", json={"protocol": "x", "nozzle_size": "y", "extra": 1}, key="write"
    )
    assert_envelope(reply, 400, "VALIDATION_ERROR")
    fields = {d["field"] for d in reply.body["details"]}
    assert {"name", "protocol", "nozzle_size", "extra"} <= fields


async def test_success_envelope(api) -> None:
    reply = await api.get("/printers", key="read")
    assert set(reply.body) == {"success", "data"} and reply.body["success"] is True
    assert reply.headers["Content-Type"].startswith("application/json")


async def test_bearer_scheme_variants(api) -> None:
    key = api.keys["read"]
    for header, code in (
        (f"Token {key}", "UNAUTHORIZED"),
        ("Bearer", "UNAUTHORIZED"),
        (f"Bearer {key.upper()}", "TOKEN_INVALID"),
        (f"Bearer apf_test_{key[9:]}", "TOKEN_INVALID"),
    ):
        reply = await api.get("/printers", key=None, headers={"Authorization": header})
        assert_envelope(reply, 401, code)
    ok = await api.get("/printers", key=None, headers={"Authorization": f"bearer {key}"})
    assert ok.status == 200


async def test_health_needs_no_key(api) -> None:
    async with aiohttp.ClientSession() as session, session.get(api.server.api + "/health") as resp:
        assert resp.status == 200 and (await resp.json())["data"]["status"] == "ok"


async def test_nul_characters_are_refused_everywhere(api) -> None:
    reply = await api.post(
        "/printers", json={"name": "a\x00b", "protocol": "simulated"}, key="write"
    )
    assert_envelope(reply, 400, "VALIDATION_ERROR")
    assert_envelope(
        await api.get("/printers", params={"search": "a\x00"}, key="read"), 400, "VALIDATION_ERROR"
    )
    assert_envelope(await api.get("/printers/%00", key="read"), 400, "VALIDATION_ERROR")


async def test_out_of_range_numbers_are_a_validation_error(api) -> None:
    file_id = (await api.get("/jobs", key="read")).data[0]["print_file_id"]
    reply = await api.post(
        "/jobs", json={"print_file_id": file_id, "priority": 10**12}, key="write"
    )
    assert_envelope(reply, 400, "VALIDATION_ERROR")


async def test_head_on_get_routes(api) -> None:
    async with api.session.head(
        api.server.api + "/printers", headers={"Authorization": f"Bearer {api.keys['read']}"}
    ) as resp:
        assert resp.status == 200 and "X-RateLimit-Limit" in resp.headers
        assert await resp.read() == b""


async def test_long_query_strings_get_the_envelope(api) -> None:
    reply = await api.get("/printers", params={"search": "x" * 9000}, key="read")
    assert_envelope(reply, 400, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/inventory", {"limit": "5", "offset": "99999999999999999999"}),
        ("/events", {"after": "99999999999999999999"}),
        ("/orders", {"offset": "99999999999999999999"}),
    ],
)
async def test_huge_numbers_in_queries_are_400(api, path, params) -> None:
    assert_envelope(await api.get(path, params=params, key="read"), 400, "VALIDATION_ERROR")


async def test_deeply_nested_json_is_a_400(api) -> None:
    import aiohttp

    body = '{"a":' * 990 + "1" + "}" * 990  # orjson accepts it; walking it used to recurse
    headers = {"Authorization": f"Bearer {api.keys['write']}", "Content-Type": "application/json"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(api.server.api + "/printers", data=body, headers=headers) as resp,
    ):
        assert resp.status == 400
        payload = await resp.json()
    assert payload["success"] is False
    assert payload["code"] == "VALIDATION_ERROR"
    assert "nested deeper" in payload["message"]
