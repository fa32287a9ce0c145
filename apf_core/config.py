"""Server settings, from arguments and ``APF_*`` environment variables."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from .storage.db import sqlite_url


def user_data_dir() -> Path:
    """The per-user default data directory: ``$XDG_DATA_HOME/apf`` (``~/.local/share/apf``) on
    Linux, ``~/Library/Application Support/apf`` on macOS, ``%LOCALAPPDATA%\\apf`` on Windows."""
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    return base / "apf"


def default_data_dir() -> Path:
    """``$APF_DATA_DIR`` when set, else :func:`user_data_dir` (never the working directory)."""
    env = os.environ.get("APF_DATA_DIR")
    return Path(env).expanduser() if env else user_data_dir()


def resolve_data_dir(flag: str | None) -> Path:
    """The one rule every command uses: ``--data-dir``, then ``$APF_DATA_DIR``, then the default."""
    return (Path(flag).expanduser() if flag else default_data_dir()).resolve()


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


@dataclass(slots=True)
class Settings:
    """Everything the server needs to run. Defaults suit one small farm."""

    data_dir: Path
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8580
    #: requests per key per window; a key's own ``rate_limit`` overrides it
    rate_limit: int = 600
    rate_window_seconds: int = 60
    max_json_bytes: int = 1024 * 1024
    max_upload_bytes: int = 100 * 1024 * 1024
    upload_token_ttl_seconds: int = 3600
    command_timeout_seconds: float = 30.0
    #: a job the printer was told to start but never began fails after this long
    start_timeout_seconds: float = 120.0
    zeroconf: bool = False
    server_name: str = "APF"
    #: connection bounds (api/connections.py): seconds, and open sockets (0: from ulimit -n)
    header_timeout_seconds: float = 10.0
    idle_timeout_seconds: float = 30.0
    body_timeout_seconds: float = 30.0
    max_connections: int = 0
    #: LAN discovery (``POST /hubs/{id}/discovered-printers/scan``): listening window,
    #: the UDP port Bambu printers send SSDP to, mDNS interface addresses (empty: all)
    discovery_seconds: float = 5.0
    discovery_ssdp_port: int = 2021
    discovery_interfaces: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, data_dir: Path | None = None, **overrides: object) -> Settings:
        settings = cls(
            data_dir=(data_dir or default_data_dir()).resolve(),
            database_url=os.environ.get("APF_DATABASE_URL") or None,
            host=os.environ.get("APF_HOST", "127.0.0.1"),
            port=_env_int("APF_PORT", 8580),
            rate_limit=_env_int("APF_RATE_LIMIT", 600),
            rate_window_seconds=_env_int("APF_RATE_WINDOW", 60),
            start_timeout_seconds=_env_int("APF_START_TIMEOUT", 120),
            discovery_seconds=_env_float("APF_DISCOVERY_SECONDS", 5.0),
        )
        for key, value in overrides.items():
            if value is not None:
                setattr(settings, key, value)
        return settings

    @property
    def db_url(self) -> str:
        return self.database_url or sqlite_url(self.data_dir / "apf.db")

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"
