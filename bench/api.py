"""Throughput and p99 latency of hot API reads against a bare aiohttp handler.

Runs each server in its own process, drives it with the same aiohttp client at
the same concurrency, and prints requests/s, p50 and p99 and the ratio to bare
aiohttp (target: >= 0.5). A benchmark, not a test:

    .venv/bin/python bench/api.py [--seconds 5] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import aiohttp

BARE_SERVER = textwrap.dedent(
    """
    import sys
    from aiohttp import web
    import orjson

    BODY = orjson.dumps({"success": True, "data": {"printer_id": "x", "hub_online": True,
        "status": "printing", "progress": 42.0, "nozzle_temp": 215.0, "bed_temp": 60.0}})

    async def handler(request):
        return web.Response(body=BODY, content_type="application/json")

    app = web.Application()
    app.router.add_get("/bare", handler)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_up(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(url) as resp:
                    if resp.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"server at {url} did not start")


async def hammer(
    url: str, headers: dict[str, str], seconds: float, concurrency: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def worker() -> None:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                async with session.get(url) as resp:
                    await resp.read()
                    if resp.status != 200:
                        raise RuntimeError(f"{url}: HTTP {resp.status}")
                latencies.append(time.perf_counter() - start)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return len(latencies) / elapsed, latencies


def report(name: str, rps: float, latencies: list[float], baseline: float | None) -> None:
    p50 = statistics.median(latencies) * 1000
    p99 = statistics.quantiles(latencies, n=100)[98] * 1000
    ratio = f"  ratio {rps / baseline:.2f} of bare" if baseline else ""
    print(f"{name:<34} {rps:9.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms{ratio}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    apf = Path(sys.executable).with_name("apf")
    with tempfile.TemporaryDirectory() as data_dir:
        env = {**os.environ, "APF_RATE_LIMIT": "1000000000", "APF_DATA_DIR": data_dir}
        created = subprocess.run(
            [str(apf), "keys", "create", "--name", "bench", "--scopes", "read"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        key = created.stdout.strip().splitlines()[-1]
        bare_port, apf_port = free_port(), free_port()
        procs = [
            subprocess.Popen([sys.executable, "-c", BARE_SERVER, str(bare_port)]),
            subprocess.Popen(
                [str(apf), "serve", "--demo", "--no-zeroconf", "--port", str(apf_port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ),
        ]
        try:
            bare = f"http://127.0.0.1:{bare_port}/bare"
            base = f"http://127.0.0.1:{apf_port}/public/v1"
            auth = {"Authorization": f"Bearer {key}"}
            await wait_up(bare)
            await wait_up(base + "/health")
            await asyncio.sleep(1.0)
            async with (
                aiohttp.ClientSession(headers=auth) as session,
                session.get(base + "/printers") as resp,
            ):
                printer_id = (await resp.json())["data"][0]["id"]
            print(
                f"{args.concurrency} concurrent clients, {args.seconds:.0f} s per target, same client\n"
            )
            await hammer(bare, {}, 1.0, args.concurrency)  # warm-up
            bare_rps, bare_lat = await hammer(bare, {}, args.seconds, args.concurrency)
            report("bare aiohttp handler", bare_rps, bare_lat, None)
            for name, path in (
                ("GET /printers/{id}/status", f"/printers/{printer_id}/status"),
                ("GET /jobs", "/jobs"),
            ):
                await hammer(base + path, auth, 1.0, args.concurrency)
                rps, lat = await hammer(base + path, auth, args.seconds, args.concurrency)
                report(name, rps, lat, bare_rps)
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=10)


if __name__ == "__main__":
    asyncio.run(main())
