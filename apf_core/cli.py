"""The ``apf`` command: ``serve``, ``keys``, ``backup``, ``restore``, ``hubs`` and ``hub``.

Every command finds the data directory the same way: ``--data-dir``, then
``$APF_DATA_DIR``, then the per-user default of :func:`apf_core.config.user_data_dir`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import json
import logging
import os
import shlex
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import __version__
from .config import Settings, resolve_data_dir
from .net.redact import install_log_redaction
from .services.keys import SCOPES, KeyService
from .storage.db import Database
from .storage.exclusive import DatabaseInUse


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        resolve_data_dir(getattr(args, "data_dir", None)),
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
        print(f"Data directory: {farm.settings.data_dir}", flush=True)
        await _first_key_or_hint(KeyService(farm.db), farm.settings)
        print(
            f"APF {__version__} listening on {server.url}/public/v1"
            f" (docs: {server.url}/public/v1/docs)",
            flush=True,
        )
        print(f"Dashboard: {server.url}/ (sign in with an API key)", flush=True)
        await _wait_for_signal()


async def _first_key_or_hint(keys: KeyService, settings: Settings) -> None:
    """Mint a key on a fresh farm; when keys exist but none is usable, say how to make one."""
    records = await keys.list()
    if not records:
        key, _record = await keys.create("first key", list(SCOPES))
        print(
            "No API keys existed, so one was minted with all scopes (read, write, control).\n"
            "It is shown once; store it now:\n"
            f"  {key}",
            flush=True,
        )
        return
    if any(key_state(r) == "active" for r in records):
        return
    where = f" --data-dir {shlex.quote(str(settings.data_dir))}"
    if settings.database_url:
        where += " --database-url '<your database URL>'"
    print(
        f"No usable API key: all {len(records)} keys are revoked or expired. Make one with:\n"
        f"  apf keys create --name admin --scopes read,write,control{where}",
        flush=True,
    )


async def _restart_runtime(farm: Any) -> None:
    """Demo rows were added after start-up: let runtime modules pick them up."""
    reload = farm.reload_printers
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


def key_state(record: dict[str, Any]) -> str:
    """``revoked``, ``expired`` or ``active`` for a key record of ``KeyService.list``."""
    if record["revoked_at"]:
        return "revoked"
    expires = record["expires_at"]
    if expires and datetime.fromisoformat(expires.replace("Z", "+00:00")) <= datetime.now(UTC):
        return "expired"
    return "active"


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
                print(json.dumps([{**r, "state": key_state(r)} for r in records], indent=2))
            else:
                for r in records:
                    state = key_state(r)
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


# --- backup / restore ----------------------------------------------------------------


def _backup(args: argparse.Namespace) -> int:
    from .backup import BackupError, backup, restore

    settings = _settings(args)
    try:
        if args.command == "backup":
            summary = backup(settings, Path(args.path).expanduser())
            print(
                f"Backed up {settings.data_dir} ({summary.database} database, "
                f"{summary.files} files) to {summary.path}"
            )
        else:
            summary = restore(settings, Path(args.path).expanduser(), force=args.force)
            print(
                f"Restored {summary.path} into {settings.data_dir} ({summary.database} "
                f"database, {summary.files} files)"
            )
    except BackupError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


# --- hubs broker-config -------------------------------------------------------------


async def _hubs(args: argparse.Namespace) -> int:
    from .hub import broker_config as bc

    settings = _settings(args)
    try:
        server = bc.server_user(
            os.environ.get("APF_MQTT_URL"), args.server_user, args.server_password_env
        )
        db = await _open_db(settings)
        try:
            scan = await bc.hub_users(db, settings.data_dir)
        finally:
            await db.dispose()
        written = await asyncio.to_thread(
            bc.write_config,
            Path(args.out),
            server,
            scan.users,
            use_mosquitto_passwd=not args.no_mosquitto_passwd,
            owner=args.owner,
        )
    except bc.BrokerConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for line in scan.skipped:
        print(f"note: {line}", file=sys.stderr)
    print(
        f"Wrote {bc.PASSWORD_FILE}, {bc.ACL_FILE} and {bc.CONF_FILE} to {written.out}: "
        f"{written.hubs} hub user(s) and the server user {written.server_user}; "
        f"passwords hashed by {written.hasher}.\n"
        "Reload Mosquitto now (SIGHUP, e.g. systemctl reload mosquitto), and again after "
        "every hub creation, deletion or token rotation."
    )
    return 0


# --- parser -------------------------------------------------------------------------


def _add_keys_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    keys = sub.add_parser("keys", help="manage API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser(
        "create", parents=[common], help="mint a key (printed once, last line)"
    )
    create.add_argument("--name", required=True)
    create.add_argument("--scopes", default="read", help="comma list of read,write,control")
    create.add_argument("--expires-in", type=int, metavar="DAYS")
    list_ = keys_sub.add_parser("list", parents=[common], help="list keys (never secrets)")
    list_.add_argument("--json", action="store_true")
    revoke = keys_sub.add_parser("revoke", parents=[common], help="revoke a key now")
    revoke.add_argument("key_id")


def _add_hubs_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    hubs_ = sub.add_parser("hubs", help="remote hubs: broker configuration")
    hubs_sub = hubs_.add_subparsers(dest="hubs_command", required=True)
    broker = hubs_sub.add_parser(
        "broker-config",
        parents=[common],
        help="write a Mosquitto password file and ACL for the current remote hubs",
    )
    broker.add_argument("--out", required=True, help="directory for the files (made 0700)")
    broker.add_argument(
        "--server-user", help="the server's broker user (default: the user in $APF_MQTT_URL)"
    )
    broker.add_argument(
        "--server-password-env",
        metavar="VAR",
        help="environment variable holding the server user's password "
        "(default: the password in $APF_MQTT_URL)",
    )
    broker.add_argument(
        "--owner",
        metavar="USER",
        help="give the directory and files to this user, e.g. mosquitto (needs root)",
    )
    broker.add_argument(
        "--no-mosquitto-passwd",
        action="store_true",
        help="hash the passwords here even when mosquitto_passwd is installed",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="apf", description="APF print-farm manager")
    parser.add_argument("--version", action="version", version=f"apf {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        help="data directory (default $APF_DATA_DIR, else ~/.local/share/apf or the "
        "platform's per-user data directory)",
    )
    common.add_argument("--database-url", help="e.g. postgresql://user@host/db ($APF_DATABASE_URL)")
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug logging"
    )

    serve = sub.add_parser(
        "serve", parents=[common], help="run the API server and the printer drivers"
    )
    serve.add_argument("--host", help="listen address (default 127.0.0.1; $APF_HOST)")
    serve.add_argument("--port", type=int, help="listen port (default 8580; $APF_PORT)")
    serve.add_argument("--demo", action="store_true", help="seed a demo farm on first start")
    serve.add_argument("--no-zeroconf", action="store_true", help="do not announce on the LAN")

    _add_keys_parser(sub, common)
    backup = sub.add_parser(
        "backup",
        parents=[common],
        help="write the database and files to one archive (safe while the server runs)",
    )
    backup.add_argument("path", help="archive file, or a directory to put a dated one in")
    restore = sub.add_parser(
        "restore", parents=[common], help="restore an archive into a fresh data directory"
    )
    restore.add_argument("path", help="an archive written by apf backup")
    restore.add_argument(
        "--force", action="store_true", help="replace a farm that is already there"
    )

    _add_hubs_parser(sub, common)
    try:
        from .hub import cli as hub_cli
    except ImportError:  # a build without the remote-hub agent
        pass
    else:
        hub_cli.add_parser(sub)
    return parser


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    install_log_redaction()  # no URL user-info in any log line
    # aiosqlite logs every statement with its parameters (webhook secrets, hashes) at DEBUG
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    if not verbose:  # "Context impl SQLiteImpl", "Will assume non-transactional DDL", ...
        logging.getLogger("alembic").setLevel(logging.WARNING)


def _listen_problem(host: str, port: int) -> int | None:
    """The errno binding ``host:port`` fails with now (checked before the farm starts)."""
    if port == 0:
        return None
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return errno.EADDRNOTAVAIL
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as err:
            return err.errno
    return None


def _listen_error(settings: Settings, code: int | None) -> int:
    reason = {
        errno.EADDRINUSE: "the port is already in use (another apf serve?); pick one with --port",
        errno.EACCES: "permission denied; use a port above 1023",
    }.get(code or 0, "that address does not belong to this machine; check --host")
    print(f"error: cannot listen on {settings.host}:{settings.port}: {reason}", file=sys.stderr)
    return 2


def _run_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    problem = _listen_problem(settings.host, settings.port)
    if problem is not None:
        return _listen_error(settings, problem)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(args))
    except DatabaseInUse as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        if err.errno not in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            raise
        return _listen_error(settings, err.errno)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    if args.command == "serve":
        return _run_serve(args)
    if args.command == "keys":
        return asyncio.run(_keys(args))
    if args.command == "hubs":
        return asyncio.run(_hubs(args))
    if args.command in ("backup", "restore"):
        return _backup(args)
    handler = getattr(args, "handler", None)
    if handler is not None:
        return int(handler(args) or 0)
    return 2


if __name__ == "__main__":
    sys.exit(main())
