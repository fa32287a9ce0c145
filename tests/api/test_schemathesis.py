"""Schemathesis against the served OpenAPI document: every operation, bounded examples.

A real demo farm runs in its own thread (its own event loop) so that schemathesis's
synchronous HTTP calls reach it over loopback; the document is loaded from
``/public/v1/openapi.json`` as a client would. Each operation gets a few derandomized
examples (valid and invalid data) and every response must be: not a 5xx, a status the
document lists, the content type the document lists, and match the documented schema.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apf_core.testing import RunningFarm, running_farm

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
#: examples per operation: enough to reach the validation and not-found paths of every
#: operation while the module stays well under three minutes on two cores
EXAMPLES = 6
#: the WebSocket endpoint answers an upgrade, not a plain request
SKIPPED_PATHS = r"/events/ws$"
#: control characters are not allowed in a header value (RFC 9110 5.5): a request carrying
#: one is not HTTP, and aiohttp's parser refuses it before the application sees it
CONTROL_CHARACTERS = "".join(chr(c) for c in range(32) if c != 9) + "\x7f"


class FarmThread:
    """A demo farm served from a background thread until :meth:`stop`."""

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.server: RunningFarm | None = None
        self._thread = threading.Thread(target=self._run, name="schemathesis-farm", daemon=True)

    def start(self) -> RunningFarm:
        self._thread.start()
        self._ready.wait(timeout=120)
        if self._error is not None:
            raise self._error
        assert self.server is not None, "the farm did not start in time"
        return self.server

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=60)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as err:  # surfaced by start()
            self._error = err
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with running_farm(
            self._data_dir,
            demo=True,
            # thousands of requests in a minute: the limiter is tested elsewhere
            rate_limit=1_000_000,
            # a LAN scan listens this long; nothing answers on a test machine
            discovery_seconds=0.2,
        ) as server:
            self.server = server
            self._ready.set()
            await self._stop.wait()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningFarm]:
    mp = pytest.MonkeyPatch()
    mp.setenv("APF_AUTO_DISPATCH", "0")  # jobs stay where the requests put them
    farm = FarmThread(tmp_path_factory.mktemp("schemathesis") / "data")
    try:
        yield farm.start()
    finally:
        farm.stop()
        mp.undo()


@pytest.fixture(scope="module")
def api_schema(served: RunningFarm) -> Any:
    schema = schemathesis.openapi.from_url(f"{served.api}/openapi.json", timeout=30)
    schema.config.update(base_url=served.url)
    schema.config.generation.update(exclude_header_characters=CONTROL_CHARACTERS)
    return schema.exclude(path_regex=SKIPPED_PATHS)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
# every operation in one test: on a machine shared with other jobs it outlasted the suite's
# 300 s default (391 s at a load average of 6 on two cores)
@pytest.mark.timeout(900)
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_conforms(case: Any, served: RunningFarm) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {served.api_key}"}, checks=CHECKS, timeout=30
    )


@pytest.mark.parametrize("path", ["/files", "/files/parse-metadata", "/products/0/images"])
def test_a_malformed_multipart_body_is_a_400(served: RunningFarm, path: str) -> None:
    """Found by the run above: a part header that is not a header was a 500."""
    import requests

    reply = requests.post(
        served.api + path,
        data=b"--b\r\n[None, None]--b--\r\n",
        headers={
            "Authorization": f"Bearer {served.api_key}",
            "Content-Type": "multipart/form-data; boundary=b",
        },
        timeout=30,
    )
    assert reply.status_code == 400, reply.text
    assert reply.json()["success"] is False
