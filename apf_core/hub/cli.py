"""``apf hub``: run a remote hub (drivers on this LAN, server reached through MQTT)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from typing import Any
from urllib.parse import urlparse

from ..net.redact import redact
from . import protocol
from .agent import HubAgent


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "hub", help="run a remote hub: printer drivers on this LAN, linked to a server over MQTT"
    )
    parser.add_argument(
        "--server", required=True, help="the APF server URL, e.g. http://apf.lan:8580"
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("APF_HUB_TOKEN"),
        help="hub token from POST /public/v1/hubs ($APF_HUB_TOKEN)",
    )
    parser.add_argument(
        "--broker",
        default=os.environ.get("APF_MQTT_URL"),
        help="MQTT broker, mqtt://host:1883 or mqtts://host:8883 "
        "(default: the server's host on 1883; $APF_MQTT_URL)",
    )
    parser.add_argument(
        "--mqtt-username",
        default=os.environ.get("APF_MQTT_USERNAME"),
        help="broker user ($APF_MQTT_USERNAME; default: the user in --broker, else the "
        "hub's own user derived from the token, see `apf hubs broker-config`; "
        "'' connects anonymously)",
    )
    parser.add_argument(
        "--mqtt-password",
        default=os.environ.get("APF_MQTT_PASSWORD"),
        help="broker password ($APF_MQTT_PASSWORD; default: derived from the token)",
    )
    parser.add_argument(
        "--heartbeat",
        type=float,
        default=protocol.HEARTBEAT_SECONDS,
        help="seconds between heartbeats (default 15)",
    )
    parser.set_defaults(handler=run)


def default_broker(server_url: str) -> str:
    host = urlparse(server_url if "://" in server_url else f"http://{server_url}").hostname
    return f"mqtt://{host or '127.0.0.1'}:{protocol.DEFAULT_PORT}"


def broker_login(args: argparse.Namespace, broker: str) -> tuple[str | None, str | None]:
    """Explicit flags/env, else the broker URL's user-info; (None, None) = derive from the token."""
    if args.mqtt_username is not None:
        return args.mqtt_username, args.mqtt_password
    username, password = protocol.broker_credentials(broker)
    if username is not None:
        return username, args.mqtt_password if args.mqtt_password is not None else password
    return None, None


def run(args: argparse.Namespace) -> int:
    if not args.token:
        print("error: --token is required (or set APF_HUB_TOKEN)", file=sys.stderr)
        return 2
    if args.heartbeat <= 0:
        print("error: --heartbeat must be positive", file=sys.stderr)
        return 2
    broker = args.broker or default_broker(args.server)
    username, password = broker_login(args, broker)
    if username is None and args.mqtt_password is not None:
        print(
            "error: --mqtt-password needs --mqtt-username (or a user in --broker)",
            file=sys.stderr,
        )
        return 2

    async def main() -> None:
        agent = HubAgent(
            args.token,
            broker,
            server_url=args.server,
            heartbeat=args.heartbeat,
            username=username,
            password=password,
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, agent.request_stop)
        user = agent.broker_username or "anonymous"
        print(
            f"APF hub for {redact(args.server)} via {redact(broker)} as broker user {user}"
            f" (topic {agent.key[:8]}…)",
            flush=True,
        )
        await agent.run()

    asyncio.run(main())
    return 0
