"""3.6 Files with a small upload cap: oversized uploads are refused with 413 and leave nothing."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from .conftest import Api, assert_error

LIMIT = 64 * 1024


@pytest.fixture
def farm_options() -> dict[str, Any]:
    return {"max_upload_bytes": LIMIT}


async def test_oversized_upload_is_413(api: Api) -> None:
    ticket = (await api.post("/files/upload-url", json={"filename": "big.gcode"})).data
    reply = await api.put(f"/files/upload/{ticket['upload_token']}", data=b";" * (LIMIT + 1),
                          headers={"Content-Type": "application/octet-stream"})
    assert_error(reply, 413, "PAYLOAD_TOO_LARGE")
    created = await api.post("/files", json={"name": "big.gcode",
                                             "storage_key": ticket["storage_key"]})
    assert_error(created, 400, "UPLOAD_MISSING")


async def test_oversized_stream_without_length_is_413(api: Api) -> None:
    ticket = (await api.post("/files/upload-url", json={"filename": "big.gcode"})).data

    async def chunks() -> Any:
        for _ in range(4):
            yield b";" * (LIMIT // 2)

    reply = await api.put(f"/files/upload/{ticket['upload_token']}", data=chunks(),
                          headers={"Content-Type": "application/octet-stream"})
    assert_error(reply, 413, "PAYLOAD_TOO_LARGE")


async def test_oversized_parse_metadata_is_413(api: Api) -> None:
    form = aiohttp.FormData()
    form.add_field("file", b";" * (LIMIT * 2), filename="big.gcode")
    assert_error(await api.post("/files/parse-metadata", data=form), 413, "PAYLOAD_TOO_LARGE")
