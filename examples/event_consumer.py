"""A stand-alone consumer of the APF event stream (needs only aiohttp).

Connects to ``/public/v1/events/ws``, prints every event, remembers the last
event id (in ``--state`` if given) and reconnects with ``last_event_id`` after
a drop or a server restart, so no event is missed and none is printed twice.

    APF_API_KEY=apf_live_... python examples/event_consumer.py \\
        --url http://127.0.0.1:8580 --types 'job.*,printer.*'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

import aiohttp

AUTH_ERRORS = {"UNAUTHORIZED", "TOKEN_INVALID", "TOKEN_REVOKED", "TOKEN_EXPIRED",
               "INSUFFICIENT_SCOPE"}


class Consumer:
    def __init__(self, url: str, key: str, types: str, state: Path | None) -> None:
        self.url = url.rstrip("/") + "/public/v1/events/ws"
        self.key = key
        self.types = types
        self.state = state
        self.last_id: int | None = None
        if state is not None and state.exists():
            self.last_id = int(state.read_text().strip() or 0)

    def remember(self, event_id: int) -> None:
        self.last_id = event_id
        if self.state is not None:
            self.state.write_text(str(event_id))

    async def run_once(self, session: aiohttp.ClientSession) -> None:
        params = {"types": self.types}
        if self.last_id is not None:
            params["last_event_id"] = str(self.last_id)
        headers = {"Authorization": f"Bearer {self.key}"}
        async with session.ws_connect(self.url, params=params, headers=headers, heartbeat=30) as ws:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                kind = frame.get("kind")
                if kind == "welcome":
                    print(f"# connected; newest event is {frame['last_event_id']}", flush=True)
                    if self.last_id is None:  # first run: start from now
                        self.last_id = frame["last_event_id"]
                elif kind == "event":
                    if self.last_id is not None and frame["id"] <= self.last_id:
                        continue  # already seen (never happens with this server, but cheap)
                    print(f"{frame['id']:>8} {frame['time']} {frame['type']:<28} "
                          f"{json.dumps(frame['data'])[:120]}", flush=True)
                    self.remember(frame["id"])
                elif kind == "error":
                    if frame["code"] in AUTH_ERRORS:
                        raise PermissionError(f"{frame['code']}: {frame['error']}")
                    print(f"# server error {frame['code']}: {frame['error']}", flush=True)

    async def run(self) -> None:
        backoff = 1.0
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    await self.run_once(session)
                    backoff = 1.0
                except PermissionError:
                    raise
                except (aiohttp.ClientError, OSError, TimeoutError) as err:
                    print(f"# stream lost ({err}); retrying in {backoff:.0f} s", flush=True)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("APF_URL", "http://127.0.0.1:8580"))
    parser.add_argument("--key", default=os.environ.get("APF_API_KEY"),
                        help="API key with scope read (default: $APF_API_KEY)")
    parser.add_argument("--types", default="*", help="comma-separated patterns, e.g. 'job.*'")
    parser.add_argument("--state", type=Path, help="file that keeps the last event id")
    args = parser.parse_args()
    if not args.key:
        parser.error("an API key is needed (--key or APF_API_KEY)")
    try:
        asyncio.run(Consumer(args.url, args.key, args.types, args.state).run())
    except PermissionError as err:
        print(f"refused: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
