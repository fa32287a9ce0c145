"""The Home Assistant client (apf_client, shipped inside the integration) against the real event stream."""

from __future__ import annotations

import asyncio

import pytest

from apf_client import ApfClient, FarmEvent
from apf_client.exceptions import APFAuthenticationError, APFError, APFInsufficientScopeError
from tests.api.conftest import Api

from .conftest import make_job


async def test_client_streams_and_resumes(api: Api) -> None:
    client = ApfClient(api.session, api.server.url, api.keys["read"])
    welcomed: list[int | None] = []
    received: list[FarmEvent] = []

    async def consume(last_event_id: int | None, count: int) -> None:
        async for event in client.events(["job.*"], last_event_id, on_connect=welcomed.append):
            received.append(event)
            if len(received) >= count:
                return

    task = asyncio.create_task(consume(None, 1))
    async with asyncio.timeout(10):
        while not welcomed:
            await asyncio.sleep(0.02)
    job = await make_job(api)
    await asyncio.wait_for(task, 10)
    assert received[0].type == "job.created" and received[0].data["id"] == job["id"]
    assert isinstance(welcomed[0], int)
    # offline: another event happens; resuming from the last id replays it
    await api.post(f"/jobs/{job['id']}/complete", json={}, key="all")
    await asyncio.wait_for(consume(received[0].id, 2), 10)
    assert received[1].type == "job.completed" and received[1].id > received[0].id


@pytest.mark.parametrize(
    ("key", "error"),
    [("revoked", APFAuthenticationError), ("invalid", APFAuthenticationError),
     ("write", APFInsufficientScopeError)],
)
async def test_client_maps_stream_errors(api: Api, key: str, error: type[APFError]) -> None:
    client = ApfClient(api.session, api.server.url, api.keys[key])
    with pytest.raises(error):
        async for _event in client.events():
            pass
