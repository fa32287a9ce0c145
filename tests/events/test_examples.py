"""The example consumer and webhook receiver run as real programs against a real server."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

from tests.api.conftest import Api

from .conftest import make_job

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def read_until(stream: asyncio.StreamReader, needle: str, timeout: float = 15) -> str:
    seen = ""
    async with asyncio.timeout(timeout):
        while needle not in seen:
            line = await stream.readline()
            if not line:
                raise AssertionError(f"process ended before {needle!r}; output:\n{seen}")
            seen += line.decode()
    return seen


async def test_examples_receive_a_job_event(api: Api) -> None:
    port = free_port()
    receiver = None
    consumer = None
    try:
        hook = await api.post(
            "/webhooks", json={"url": f"http://127.0.0.1:{port}/apf", "events": ["job.*"]},
            key="write",
        )
        secret = hook.data["secret"]
        receiver = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "examples/webhook_receiver.py"), "--host", "127.0.0.1",
            "--port", str(port), "--secret", secret,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        consumer = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "examples/event_consumer.py"), "--url", api.server.url,
            "--key", api.keys["read"], "--types", "job.*",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        assert consumer.stdout is not None
        assert receiver.stdout is not None
        await read_until(consumer.stdout, "# connected")
        for _ in range(100):  # the receiver is listening once the test delivery succeeds
            probe = await api.post(f"/webhooks/{hook.data['id']}/test", key="write")
            if probe.data["delivered"]:
                break
            await asyncio.sleep(0.1)
        job = await make_job(api)
        assert job["id"] in await read_until(consumer.stdout, job["id"])
        assert job["id"] in await read_until(receiver.stdout, job["id"])
        # a wrong secret is refused by the receiver (and logged by the server)
        await api.patch(f"/webhooks/{hook.data['id']}", json={"secret": "x" * 20}, key="write")
        refused = (await api.post(f"/webhooks/{hook.data['id']}/test", key="write")).data
        assert refused["status_code"] == 401
    finally:
        for proc in (receiver, consumer):
            if proc is not None and proc.returncode is None:
                proc.terminate()
                await proc.wait()


async def test_consumer_refuses_a_bad_key(api: Api) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "examples/event_consumer.py"), "--url", api.server.url,
        "--key", api.keys["write"],
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 2
    assert b"INSUFFICIENT_SCOPE" in err
