"""The ``apf`` command: ``serve``, ``keys`` and ``hub``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
from pathlib import Path
from typing import Any

from . import __version__
from .config import Settings, default_data_dir
from .services.keys import SCOPES, KeyService
from .storage.db import Database


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        Path(args.data_dir) if args.data_dir else default_data_dir(),
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        database_url=getattr(args, "database_url", None),
    )


async def _open_db(settings: Settings) -> Database:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.db_url)
    await db.migrate()
    return db


# --- serve ----------------------------------------------------------------------


async def _serve(args: argparse.Namespace) -> None:
    from .demo import seed_demo
    from .server import serve

    settings = _settings(args)
    settings.zeroconf = not args.no_zeroconf
    async with serve(settings) as server:
        farm = server.farm
        if args.demo and await seed_demo(farm):
            print(
                "Seeded the demo farm: simulated printers, files, jobs, products, stock,"
                " an open order and worklist tasks.",
                flush=True,
            )
            await _restart_runtime(farm)
        keys = KeyService(farm.db)
        if await keys.count_active() == 0:
            key, _record = await keys.create("first key", list(SCOPES))
            print(
                "No API keys existed, so one was minted with all scopes (read, write, control).\n"
                "It is shown once; store it now:\n"
                f"  {key}",
                flush=True,
            )
        print(
            f"APF {__version__} listening on {server.url}/public/v1"
            f" (docs: {server.url}/public/v1/docs)",
            flush=True,
        )
        await _wait_for_signal()


async def _restart_runtime(farm: Any) -> None:
    """Demo rows were added after start-up: let runtime modules pick them up."""
    reload = farm.extensions.get("reload_printers")
    if reload is not None:
        await reload()


async def _wait_for_signal() -> None:
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


# --- keys -------------------------------------------------------------------------


async def _keys(args: argparse.Namespace) -> int:
    db = await _open_db(_settings(args))
    try:
        service = KeyService(db)
        if args.keys_command == "create":
            scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
            try:
                key, record = await service.create(
                    args.name, scopes, expires_in_days=args.expires_in
                )
            except ValueError as err:
                print(f"error: {err}", file=sys.stderr)
                return 2
            print(
                f"Created key {record['id']} ({record['name']}) scopes={','.join(record['scopes'])}"
                + (f" expires={record['expires_at']}" if record["expires_at"] else "")
            )
            print("The key is shown once; store it now:")
            print(key)
        elif args.keys_command == "list":
            records = await service.list()
            if args.json:
                print(json.dumps(records, indent=2))
            else:
                for r in records:
                    state = "revoked" if r["revoked_at"] else "active"
                    print(
                        f"{r['id']}  {r['prefix']}…  {r['name']}"
                        f"  [{','.join(r['scopes'])}]  {state}"
                        + (f"  expires {r['expires_at']}" if r["expires_at"] else "")
                    )
        elif args.keys_command == "revoke":
            from .errors import NotFound

            try:
                await service.revoke(args.key_id)
            except NotFound as err:
                print(f"error: {err}", file=sys.stderr)
                return 1
            print(f"Revoked {args.key_id}")
        return 0
    finally:
        await db.dispose()


# --- parser -------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="apf", description="APF print-farm manager")
    parser.add_argument("--version", action="version", version=f"apf {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the API server and the printer drivers")
    serve.add_argument("--data-dir", help="data directory (default $APF_DATA_DIR or ./apf-data)")
    serve.add_argument("--host", help="listen address (default 127.0.0.1; $APF_HOST)")
    serve.add_argument("--port", type=int, help="listen port (default 8580; $APF_PORT)")
    serve.add_argument("--database-url", help="e.g. postgresql://user@host/db ($APF_DATABASE_URL)")
    serve.add_argument("--demo", action="store_true", help="seed a demo farm on first start")
    serve.add_argument("--no-zeroconf", action="store_true", help="do not announce on the LAN")

    keys = sub.add_parser("keys", help="manage API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="mint a key (printed once, last line)")
    create.add_argument("--name", required=True)
    create.add_argument("--scopes", default="read", help="comma list of read,write,control")
    create.add_argument("--expires-in", type=int, metavar="DAYS")
    list_ = keys_sub.add_parser("list", help="list keys (never secrets)")
    list_.add_argument("--json", action="store_true")
    revoke = keys_sub.add_parser("revoke", help="revoke a key now")
    revoke.add_argument("key_id")
    for p in (create, list_, revoke):
        p.add_argument("--data-dir")
        p.add_argument("--database-url")

    try:
        from .hub import cli as hub_cli
    except ImportError:  # a build without the remote-hub agent
        pass
    else:
        hub_cli.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "serve":
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(args))
        return 0
    if args.command == "keys":
        return asyncio.run(_keys(args))
    handler = getattr(args, "handler", None)
    if handler is not None:
        return int(handler(args) or 0)
    return 2


if __name__ == "__main__":
    sys.exit(main())
