"""Server throughput and latency of hot API paths, against a bare aiohttp handler in the same run.

The load generator is wrk (C, epoll), which is much faster than either server, so
the figures measure the servers and not the client. Each server runs in its own
process; wrk gets the same threads, connections and duration for every target.
Printed per target: requests/s, p50 and p99 from wrk's latency distribution, the
ratio to the bare handler of the same method, the server's CPU time per request
(user + system, from ``/proc``; on a shared machine it moves far less than
requests/s, so its ratio to bare says what the throughput ratio would be on an
idle core), and the goal (issue 14):

* ``GET /printers/{id}/status``: >= 0.6 of bare, p99 < 20 ms
* ``GET /jobs?limit=50``: >= 0.5 of bare
* ``POST /jobs``: reported next to a bare POST handler that parses the JSON body

wrk comes from the distribution (``apt-get install wrk``); run as root the bench
installs it, otherwise it says so and stops. A benchmark, not a test:

    .venv/bin/python bench/api.py [--seconds 10] [--connections 64] [--threads 1] [--rounds 1]

On a loaded machine use ``--rounds 5``: bare and APF alternate, each round prints its ratios,
and the median ratio of the rounds closes the GET part.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

BARE_SERVER = textwrap.dedent(
    """
    import sys
    from aiohttp import web
    import orjson

    BODY = orjson.dumps({"success": True, "data": {"printer_id": "x", "hub_online": True,
        "status": "printing", "progress": 42.0, "nozzle_temp": 215.0, "bed_temp": 60.0}})

    async def get(request):
        return web.Response(body=BODY, content_type="application/json")

    async def post(request):
        data = orjson.loads(await request.read())
        return web.Response(body=orjson.dumps({"success": True, "data": data}), status=201,
                            content_type="application/json")

    app = web.Application()
    app.router.add_get("/bare", get)
    app.router.add_post("/bare", post)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
    """
)

STATUS_GOAL = ">= 0.60 of bare, p99 < 20 ms"
JOBS_GOAL = ">= 0.50 of bare"

POST_SCRIPT = """
wrk.method = "POST"
wrk.body = '{body}'
wrk.headers["Content-Type"] = "application/json"
"""


@dataclass(slots=True)
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    #: the server process's CPU time (user + system) per request, microseconds
    cpu_us: float = 0.0


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: apt-get install -y wrk", flush=True)
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, capture_output=True)
        found = shutil.which("wrk")
        if found:
            return found
    sys.exit("bench/api.py needs wrk: install it with `sudo apt-get install wrk` (Debian/Ubuntu)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(url: str) -> None:
    for _ in range(300):
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not start")


def call(url: str, key: str, body: dict[str, object] | None = None) -> dict[str, object]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url,
        data=data,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        return dict(json.loads(resp.read()))


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def parse_wrk(output: str) -> Result:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", output, re.M))
    p50, p99 = (re.fullmatch(r"([\d.]+)(us|ms|s|m)", lat[k]) for k in ("50", "99"))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    count = int(errors.group(1)) if errors else 0
    if socket_errors:
        count += sum(int(n) for n in socket_errors.groups())
    return Result(rps, _ms(*p50.groups()), _ms(*p99.groups()), count)  # type: ignore[union-attr]


def run_wrk(
    wrk: str, url: str, args: argparse.Namespace, server: int, *, key: str = "", script: str = ""
) -> Result:
    command = [wrk, f"-t{args.threads}", f"-c{args.connections}", f"-d{args.seconds}s", "--latency"]
    if key:
        command += ["-H", f"Authorization: Bearer {key}"]
    if script:
        command += ["-s", script]
    subprocess.run([*command[:3], "-d1s", *command[4:], url], check=True, capture_output=True)
    cpu = cpu_seconds(server)
    done = subprocess.run([*command, url], check=True, capture_output=True, text=True)
    cpu = cpu_seconds(server) - cpu
    result = parse_wrk(done.stdout)
    total = re.search(r"(\d+) requests in", done.stdout)
    result.cpu_us = cpu * 1e6 / max(1, int(total.group(1))) if total else 0.0
    return result


def report(name: str, result: Result, bare: Result | None, goal: str) -> None:
    ratio = f"{result.rps / bare.rps:5.2f} of bare" if bare else "   (baseline) "
    cpu = f"CPU {result.cpu_us:5.0f} us/req"
    if bare and result.cpu_us:
        cpu += f" ({bare.cpu_us / result.cpu_us:4.2f})"
    errors = f"  ERRORS {result.errors}" if result.errors else ""
    print(
        f"{name:<28} {result.rps:8.0f} req/s  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms"
        f"  {ratio}  {cpu:<25} goal: {goal}{errors}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1, help="repeat the GET targets")
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    args = parser.parse_args()
    wrk = ensure_wrk()
    apf = Path(sys.executable).with_name("apf")
    with tempfile.TemporaryDirectory() as data_dir:
        env = {**os.environ, "APF_RATE_LIMIT": "1000000000", "APF_DATA_DIR": data_dir}
        if args.database_url:
            env["APF_DATABASE_URL"] = args.database_url
        created = subprocess.run(
            [str(apf), "keys", "create", "--name", "bench", "--scopes", "read,write"],
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
            server = procs[1].pid
            bare = f"http://127.0.0.1:{bare_port}/bare"
            base = f"http://127.0.0.1:{apf_port}/public/v1"
            wait_up(bare)
            wait_up(base + "/health")
            time.sleep(1.0)
            printer_id = call(base + "/printers", key)["data"][0]["id"]  # type: ignore[index]
            file_id = call(base + "/files", key)["data"][0]["id"]  # type: ignore[index]
            for _ in range(60):  # the job list holds 50 rows
                call(base + "/jobs", key, {"print_file_id": file_id, "printer_id": printer_id})
            load = os.getloadavg()
            print(
                f"wrk -t{args.threads} -c{args.connections} -d{args.seconds}s; "
                f"{os.cpu_count()} CPUs, load average before {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n",
                flush=True,
            )
            # rounds alternate bare and APF, so a load change on a shared machine hits both
            ratios: dict[str, list[float]] = {"status": [], "jobs": []}
            for round_no in range(1, args.rounds + 1):
                if args.rounds > 1:
                    print(f"round {round_no} of {args.rounds}", flush=True)
                bare_get = run_wrk(wrk, bare, args, procs[0].pid)
                report("bare aiohttp GET", bare_get, None, "-")
                status = run_wrk(wrk, f"{base}/printers/{printer_id}/status", args, server, key=key)
                report("GET /printers/{id}/status", status, bare_get, STATUS_GOAL)
                jobs = run_wrk(wrk, f"{base}/jobs?limit=50", args, server, key=key)
                report("GET /jobs?limit=50", jobs, bare_get, JOBS_GOAL)
                ratios["status"].append(status.rps / bare_get.rps)
                ratios["jobs"].append(jobs.rps / bare_get.rps)
            if args.rounds > 1:
                print(
                    f"median of {args.rounds} rounds: status {statistics.median(ratios['status']):.2f}"
                    f" of bare (goal 0.60), job list {statistics.median(ratios['jobs']):.2f}"
                    " of bare (goal 0.50)\n",
                    flush=True,
                )
            with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
                body = json.dumps({"print_file_id": file_id, "printer_id": printer_id})
                script.write(POST_SCRIPT.format(body=body))
            try:
                bare_post = run_wrk(wrk, bare, args, procs[0].pid, script=script.name)
                report("bare aiohttp POST (JSON)", bare_post, None, "-")
                post = run_wrk(wrk, f"{base}/jobs", args, server, key=key, script=script.name)
                report("POST /jobs", post, bare_post, "reported (write path)")
            finally:
                os.unlink(script.name)
            load = os.getloadavg()
            print(f"\nload average after {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=20)


if __name__ == "__main__":
    main()
