"""CPU per request of the server's request path, in process: no sockets, no client.

Raw HTTP/1.1 requests go through aiohttp's real protocol object (parser, router, the
route wrapper, the handler, response serialisation) into a transport that only counts
bytes, one request at a time on one keep-alive connection. The same is done for a bare
aiohttp handler in the same process, so the difference is what APF's own path costs:
key check, rate limit, validation, the handler and its cached body. The farm's
background loops are stopped first (``--with-background`` keeps them).

    .venv/bin/python bench/request_path.py [--requests 20000] [--rounds 3]

Wall-clock noise on a shared machine moves these figures too; for counts that do not
move, run one target under valgrind and subtract a short run from a long one:

    valgrind --tool=cachegrind --cache-sim=no python bench/request_path.py --only status --requests N
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import web

from apf_core.api.app import KEYS, create_app
from apf_core.api.connections import ConnectionLimits, GuardedAppRunner
from apf_core.config import Settings
from apf_core.demo import seed_demo
from apf_core.farm import Farm

BARE_BODY = json.dumps(
    {"success": True, "data": {"printer_id": "x", "status": "printing", "progress": 42.0}}
).encode()


class CountingTransport(asyncio.Transport):
    """Takes what the server writes; wakes the driver when a response starts."""

    def __init__(self) -> None:
        super().__init__()
        self.written = 0
        self.waiter: asyncio.Future[None] | None = None
        self.chunks: list[bytes] = []
        self.keep = False

    def write(self, data: Any) -> None:
        self.written += len(data)
        if self.keep:
            self.chunks.append(bytes(data))
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        return None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8080)}.get(
            name, default
        )

    def get_write_buffer_size(self) -> int:
        return 0

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        return None

    def pause_reading(self) -> None:
        return None

    def resume_reading(self) -> None:
        return None

    def can_write_eof(self) -> bool:
        return True


class Connection:
    """One keep-alive connection into a server's protocol."""

    def __init__(self, server: web.Server) -> None:
        self.protocol = server()
        self.transport = CountingTransport()
        self.protocol.connection_made(self.transport)

    async def send(self, raw: bytes) -> None:
        self.transport.waiter = asyncio.get_running_loop().create_future()
        self.protocol.data_received(raw)
        await self.transport.waiter
        await asyncio.sleep(0)  # the handler finishes its response

    async def answer(self, raw: bytes) -> dict[str, Any]:
        """The JSON body of one request (for setting up, not timed)."""
        self.transport.keep, self.transport.chunks = True, []
        await self.send(raw)
        await asyncio.sleep(0.05)
        self.transport.keep = False
        return dict(json.loads(b"".join(self.transport.chunks).split(b"\r\n\r\n", 1)[1]))

    async def cpu_per_request(self, raw: bytes, count: int) -> tuple[float, int]:
        """Process CPU time (all threads) per request, microseconds, and bytes per response."""
        for _ in range(min(500, count)):
            await self.send(raw)
        written = self.transport.written
        started = time.process_time()
        for _ in range(count):
            await self.send(raw)
        spent = time.process_time() - started
        return spent * 1e6 / count, (self.transport.written - written) // count


def get(path: str, key: str = "") -> bytes:
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    return f"GET {path} HTTP/1.1\r\nHost: bench\r\n{auth}\r\n".encode()


def post(path: str, key: str, body: dict[str, Any]) -> bytes:
    data = json.dumps(body)
    return (
        f"POST {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n{data}"
    ).encode()


async def bare_runner() -> web.AppRunner:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=BARE_BODY, content_type="application/json")

    app = web.Application()
    app.router.add_get("/bare", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    return runner


async def run(args: argparse.Namespace, data_dir: Path) -> None:
    settings = Settings.from_env(data_dir, rate_limit=10**9)
    farm = Farm(settings)
    await farm.start()
    await seed_demo(farm)
    app = create_app(farm)
    key, _ = await app[KEYS].create("bench", ["read", "write"])
    runner = GuardedAppRunner(app, ConnectionLimits(), access_log=None)
    await runner.setup()
    bare = await bare_runner()
    assert runner.server is not None
    assert bare.server is not None
    api = Connection(runner.server)
    printer_id = (await api.answer(get("/public/v1/printers", key)))["data"][0]["id"]
    file_id = (await api.answer(get("/public/v1/files", key)))["data"][0]["id"]
    for _ in range(60):  # the job list holds 50 rows
        job = {"print_file_id": file_id, "printer_id": printer_id}
        await api.answer(post("/public/v1/jobs", key, job))
    if not args.with_background:
        for task in asyncio.all_tasks() - {asyncio.current_task()}:
            task.cancel()
        await asyncio.sleep(0.1)
    targets = {
        "bare": (Connection(bare.server), get("/bare")),
        # new connections: stopping the background also stopped the first one's task
        "status": (Connection(runner.server), get(f"/public/v1/printers/{printer_id}/status", key)),
        "jobs": (Connection(runner.server), get("/public/v1/jobs?limit=50", key)),
    }
    if args.only:
        connection, raw = targets[args.only]
        await connection.cpu_per_request(raw, args.requests)
        return
    for round_no in range(1, args.rounds + 1):
        figures = {}
        for name, (connection, raw) in targets.items():
            figures[name] = await connection.cpu_per_request(raw, args.requests)
        bare_us = figures["bare"][0]
        print(
            f"round {round_no}: "
            + "  ".join(
                f"{name} {us:5.1f} us ({size} B)"
                + ("" if name == "bare" else f" {bare_us / us:.2f}")
                for name, (us, size) in figures.items()
            ),
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=("bare", "status", "jobs"), help="one target, no report")
    parser.add_argument("--with-background", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        asyncio.run(run(args, Path(data_dir)))


if __name__ == "__main__":
    main()
