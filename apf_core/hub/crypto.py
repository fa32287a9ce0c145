"""Keys and sealed messages of the hub link (``cryptography``: HKDF-SHA256, AES-256-GCM).

Everything is keyed from the hub token, which only the hub holds in clear. The
server keeps the token-derived root key sealed under its own master key
(:mod:`apf_core.hub.vault`); the database's ``token_hash`` is a plain SHA-256
and derives none of these keys (HKDF uses its own salt and labels).

A sealed message::

    0x01 | nonce (12 bytes) | AES-GCM(key, sender session (16) | seq (8) | body, aad=topic)

One key per direction (hub to server, server to hub), so a message can never
be reflected back to its sender, and the topic is authenticated as well.
"""

from __future__ import annotations

import os
import struct
from collections import OrderedDict
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = 1
_SALT = b"apf hub link v1"
_HEADER = struct.Struct(">16sQ")
#: seq numbers this far below the highest seen are refused outright
REPLAY_WINDOW = 4096
#: broker user names of hubs: this prefix and the topic id (never the token)
BROKER_USER_PREFIX = "apfhub-"
SESSIONS_REMEMBERED = 4


class SealError(ValueError):
    """A message that is not from the key holder, altered, or replayed."""


def _hkdf(material: bytes, label: str, length: int = 32) -> bytes:
    return HKDF(hashes.SHA256(), length, _SALT, label.encode()).derive(material)


def root_key(token: str) -> bytes:
    """The 32-byte secret everything else is derived from (never stored in clear)."""
    return _hkdf(token.encode(), "root")


@dataclass(frozen=True, slots=True)
class LinkKeys:
    topic_id: str
    up: bytes  # hub -> server
    down: bytes  # server -> hub
    broker_password: str

    @classmethod
    def from_root(cls, root: bytes) -> LinkKeys:
        return cls(
            topic_id=_hkdf(root, "topic", 16).hex(),
            up=_hkdf(root, "up"),
            down=_hkdf(root, "down"),
            broker_password=_hkdf(root, "broker", 24).hex(),
        )

    @classmethod
    def from_token(cls, token: str) -> LinkKeys:
        return cls.from_root(root_key(token))

    @property
    def broker_username(self) -> str:
        """The hub's broker user: public (the topic id is visible on the broker anyway)."""
        return BROKER_USER_PREFIX + self.topic_id


@dataclass(frozen=True, slots=True)
class Opened:
    session: bytes
    seq: int
    body: bytes


def seal(key: bytes, topic: str, session: bytes, seq: int, body: bytes) -> bytes:
    nonce = os.urandom(12)
    plain = _HEADER.pack(session, seq) + body
    return bytes([VERSION]) + nonce + AESGCM(key).encrypt(nonce, plain, topic.encode())


def open_sealed(key: bytes, topic: str, wire: bytes) -> Opened:
    if len(wire) < 13 + 16 + _HEADER.size or wire[0] != VERSION:
        raise SealError("not a sealed APF message")
    try:
        plain = AESGCM(key).decrypt(wire[1:13], wire[13:], topic.encode())
    except InvalidTag:
        raise SealError("message authentication failed") from None
    session, seq = _HEADER.unpack_from(plain)
    return Opened(session, seq, plain[_HEADER.size :])


class ReplayGuard:
    """Accepts each (session, seq) once; remembers the last few sessions of a peer."""

    def __init__(self) -> None:
        self._sessions: OrderedDict[bytes, tuple[int, set[int]]] = OrderedDict()

    def reset(self) -> None:
        self._sessions.clear()

    def accept(self, session: bytes, seq: int) -> bool:
        highest, seen = self._sessions.get(session, (0, set()))
        if seq <= highest - REPLAY_WINDOW or seq in seen:
            return False
        seen.add(seq)
        highest = max(highest, seq)
        if len(seen) > REPLAY_WINDOW:
            seen = {s for s in seen if s > highest - REPLAY_WINDOW}
        self._sessions[session] = (highest, seen)
        self._sessions.move_to_end(session)
        while len(self._sessions) > SESSIONS_REMEMBERED:
            self._sessions.popitem(last=False)
        return True
