"""Mosquitto configuration for the remote hubs (``apf hubs broker-config``).

Each remote hub logs in to the broker as ``apfhub-<topic id>`` with a password
derived (HKDF) from its token (:class:`apf_core.hub.crypto.LinkKeys`). The
server holds no token, only each hub's root key sealed under its master key
(:mod:`apf_core.hub.vault`), and derives both from that. It writes:

- ``apf-passwd``: a Mosquitto 2.x password file (``user:$7$101$salt$hash``,
  PBKDF2-SHA512), hashed by ``mosquitto_passwd -U`` when it is installed (so the
  installed broker's own format is used), else here. Mode 0600.
- ``apf-acl``: each hub user may only read ``apf/v1/hub/<id>/down/#`` and write
  ``apf/v1/hub/<id>/up/#``; the server's user gets ``apf/v1/hub/#``.
- ``mosquitto-apf.conf``: the three lines that switch them on.

A token rotation changes the hub's password: regenerate, then reload Mosquitto.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from ..storage.db import Database
from ..storage.tables.spine import hubs
from . import protocol
from .crypto import BROKER_USER_PREFIX, LinkKeys
from .vault import KEY_FILE, VaultError, load_master_key, open_secret

PASSWORD_FILE = "apf-passwd"  # noqa: S105 - a file name
ACL_FILE = "apf-acl"
CONF_FILE = "mosquitto-apf.conf"
#: Mosquitto 2.x's ``$7$`` hashes: PBKDF2-SHA512, this many rounds, a 12-byte salt
PBKDF2_ROUNDS = 101
_FORBIDDEN = frozenset(":#+") | {chr(c) for c in range(33)} | {"\x7f"}


class BrokerConfigError(ValueError):
    """The configuration cannot be written as asked (message safe to print)."""


@dataclass(frozen=True, slots=True)
class BrokerUser:
    username: str
    password: str
    hub_id: str | None = None  # None: the server's user
    topic_id: str | None = None


@dataclass(frozen=True, slots=True)
class HubScan:
    users: list[BrokerUser]
    skipped: list[str]  # one line per hub left out, never a secret


async def hub_users(db: Database, data_dir: Path) -> HubScan:
    """The broker users of the remote hubs, from their sealed root keys."""
    async with db.read() as conn:
        rows = (
            await conn.execute(
                select(hubs.c.id, hubs.c.link_key)
                .where(hubs.c.kind != "embedded")
                .order_by(hubs.c.created_at, hubs.c.id)
            )
        ).all()
    users: list[BrokerUser] = []
    skipped: list[str] = []
    master: bytes | None = None
    for row in rows:
        if not row.link_key:
            skipped.append(f"hub {row.id} has no link key (rotate its token to link it)")
            continue
        if master is None:
            master = _master_key(data_dir)
        try:
            root = open_secret(master, row.link_key, row.id)
        except VaultError as err:
            raise BrokerConfigError(
                f"hub {row.id}: {err} (is APF_SECRET_KEY / the data directory the "
                "server's?)"
            ) from None
        keys = LinkKeys.from_root(root)
        users.append(BrokerUser(keys.broker_username, keys.broker_password, row.id, keys.topic_id))
    return HubScan(users, skipped)


def _master_key(data_dir: Path) -> bytes:
    """The server's master key; never a new one (that would open no hub key)."""
    if not os.environ.get("APF_SECRET_KEY") and not (data_dir / KEY_FILE).exists():
        raise BrokerConfigError(
            f"no master key: neither $APF_SECRET_KEY nor {data_dir / KEY_FILE} (run with "
            "the data directory and environment of apf serve)"
        )
    try:
        return load_master_key(data_dir)
    except VaultError as err:
        raise BrokerConfigError(str(err)) from None


def server_user(
    broker_url: str | None,
    name: str | None,
    password_env: str | None,
    environ: Mapping[str, str] = os.environ,
) -> BrokerUser:
    """The server's broker user: ``--server-user``, else the user-info of the broker URL."""
    url_user, url_password = protocol.broker_credentials(broker_url) if broker_url else (None, None)
    username = name or url_user
    if password_env:
        password = environ.get(password_env)
        if not password:
            raise BrokerConfigError(f"${password_env} is not set or empty")
    else:
        password = url_password if username == url_user else None
    if not username:
        raise BrokerConfigError(
            "no server user: set APF_MQTT_URL=mqtt://USER:PASSWORD@host:port (the server "
            "logs in with it) or pass --server-user NAME --server-password-env VAR"
        )
    if not password:
        raise BrokerConfigError(
            f"no password for server user {username}: put it in APF_MQTT_URL or pass "
            "--server-password-env VAR"
        )
    check_username(username)
    if "\n" in password or "\r" in password:
        raise BrokerConfigError("the server password cannot contain a line break")
    return BrokerUser(username, password)


def check_username(username: str) -> None:
    if not username or any(c in _FORBIDDEN for c in username):
        raise BrokerConfigError(
            "the server user name must not be empty nor contain spaces, control "
            "characters, ':', '#' or '+'"
        )
    if username.startswith(BROKER_USER_PREFIX):
        raise BrokerConfigError(f"user names starting with {BROKER_USER_PREFIX} are the hubs'")


def pbkdf2_entry(username: str, password: str, salt: bytes | None = None) -> str:
    """One password-file line in Mosquitto 2.x's ``$7$`` format."""
    salt = salt if salt is not None else os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ROUNDS)
    encoded = (base64.b64encode(salt).decode(), base64.b64encode(digest).decode())
    return f"{username}:$7${PBKDF2_ROUNDS}${encoded[0]}${encoded[1]}"


def acl_text(server: BrokerUser, users: list[BrokerUser], stamp: str) -> str:
    lines = [
        f"# Written by `apf hubs broker-config` at {stamp} for {len(users)} remote hub(s).",
        "# Regenerate after creating or deleting a hub or rotating a token, then reload",
        "# Mosquitto (SIGHUP). Everything not granted here is denied.",
        "",
        f"user {server.username}",
        f"topic readwrite {protocol.PREFIX}/#",
    ]
    for user in users:
        assert user.topic_id is not None
        lines += [
            "",
            f"# hub {user.hub_id}",
            f"user {user.username}",
            f"topic read {protocol.topic(user.topic_id, 'down', '#')}",
            f"topic write {protocol.topic(user.topic_id, 'up', '#')}",
        ]
    return "\n".join(lines) + "\n"


def conf_text(out: Path) -> str:
    return (
        "# Include in mosquitto.conf (e.g. copy to /etc/mosquitto/conf.d/). With\n"
        "# per_listener_settings true, repeat these lines under each listener.\n"
        "allow_anonymous false\n"
        f"password_file {out / PASSWORD_FILE}\n"
        f"acl_file {out / ACL_FILE}\n"
    )


def _write_private(path: Path, text: str, mode: int = 0o600) -> None:
    """Write ``text`` to ``path`` atomically, never readable by others on the way."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_passwords(path: Path, users: list[BrokerUser], mosquitto_passwd: str | None) -> str:
    """The password file, hashed; returns which hasher was used."""
    if mosquitto_passwd is None:
        _write_private(path, "".join(pbkdf2_entry(u.username, u.password) + "\n" for u in users))
        return "apf (PBKDF2-SHA512, $7$)"
    # plain text only in a 0600 file that mosquitto_passwd -U hashes in place (no
    # password on a command line, where other local users could read it)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write("".join(f"{u.username}:{u.password}\n" for u in users))
        done = subprocess.run(
            [mosquitto_passwd, "-U", tmp], capture_output=True, text=True, timeout=60
        )
        if done.returncode != 0:
            raise BrokerConfigError(f"mosquitto_passwd -U failed: {done.stderr.strip()[:200]}")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return mosquitto_passwd


@dataclass(frozen=True, slots=True)
class Written:
    out: Path
    hubs: int
    server_user: str
    hasher: str


def write_config(
    out: Path,
    server: BrokerUser,
    users: list[BrokerUser],
    *,
    mosquitto_passwd: str | None = None,
    use_mosquitto_passwd: bool = True,
    owner: str | None = None,
) -> Written:
    """Write the password, ACL and snippet files into ``out`` (created 0700 if missing).

    ``owner``: a user (a root caller's Mosquitto drops to ``mosquitto``) who gets
    the directory and the files, with its primary group.
    """
    ids = _owner_ids(owner) if owner else None
    out = out.expanduser().resolve()
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    tool = (mosquitto_passwd or shutil.which("mosquitto_passwd")) if use_mosquitto_passwd else None
    hasher = _write_passwords(out / PASSWORD_FILE, [server, *users], tool)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    _write_private(out / ACL_FILE, acl_text(server, users, stamp))
    _write_private(out / CONF_FILE, conf_text(out), mode=0o644)
    if ids is not None:
        for path in (out, out / PASSWORD_FILE, out / ACL_FILE, out / CONF_FILE):
            os.chown(path, *ids)
    return Written(out, len(users), server.username, hasher)


def _owner_ids(owner: str) -> tuple[int, int]:
    import pwd

    try:
        entry = pwd.getpwnam(owner)
    except KeyError:
        raise BrokerConfigError(f"no such user: {owner}") from None
    if os.geteuid() not in (0, entry.pw_uid):
        raise BrokerConfigError(f"only root can give the files to {owner}")
    return entry.pw_uid, entry.pw_gid
