"""One end of an authenticated hub link: sealing, replay refusal and the handshake.

Handshake (each message sealed with its direction's key)::

    hub    -> up/hello      {nonce: Nh, ...}
    server -> down/welcome  {nonce: Nh, server_nonce: Ns}
    hub    -> up/ready      {nonce: Ns}

Only the server can answer Nh (it alone holds the down key besides the hub) and
only the hub can answer Ns, so each side has verified the other. Afterwards a
side accepts messages only from the peer session it shook hands with, and each
sequence number once; a captured message is therefore useless later.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
from typing import Any

from .crypto import LinkKeys, Opened, ReplayGuard, SealError, open_sealed, seal

#: seq reserved for the hub's last will (set before any message is sent)
WILL_SEQ = 0


class Channel:
    def __init__(self, keys: LinkKeys, *, hub_side: bool) -> None:
        self.keys = keys
        self._send_key, self._recv_key = (keys.up, keys.down) if hub_side else (keys.down, keys.up)
        self.session = os.urandom(16)
        self._seq = itertools.count(1)
        self.peer: bytes | None = None
        self._guard = ReplayGuard()
        self._nonce: str | None = None  # hub: our hello nonce; server: our welcome nonce
        self._pending_peer: bytes | None = None

    @property
    def established(self) -> bool:
        return self.peer is not None

    def seal(self, topic: str, body: bytes | dict[str, Any], *, seq: int | None = None) -> bytes:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        number = next(self._seq) if seq is None else seq
        return seal(self._send_key, topic, self.session, number, data)

    def open(self, topic: str, wire: bytes) -> Opened:
        """Decrypt and authenticate; raises :class:`SealError` (forged or altered)."""
        return open_sealed(self._recv_key, topic, wire)

    def fresh(self, opened: Opened) -> bool:
        """From the established peer, and never seen before."""
        return opened.session == self.peer and self._guard.accept(opened.session, opened.seq)

    def from_peer(self, opened: Opened) -> bool:
        return self.peer is not None and opened.session == self.peer

    # --- hub side ------------------------------------------------------------------
    def hello(self, extra: dict[str, Any]) -> dict[str, Any]:
        self._nonce = secrets.token_hex(16)
        return {**extra, "nonce": self._nonce}

    def on_welcome(self, opened: Opened, body: dict[str, Any]) -> dict[str, Any] | None:
        """The body of ``up/ready``, or None when the welcome answers no hello of ours."""
        if self._nonce is None or not secrets.compare_digest(str(body.get("nonce")), self._nonce):
            return None
        self._nonce = None
        self._establish(opened)
        return {"nonce": str(body.get("server_nonce"))}

    # --- server side ----------------------------------------------------------------
    def on_hello(self, opened: Opened, body: dict[str, Any]) -> dict[str, Any]:
        self._nonce = secrets.token_hex(16)
        self._pending_peer = opened.session
        return {"nonce": str(body.get("nonce")), "server_nonce": self._nonce}

    def on_ready(self, opened: Opened, body: dict[str, Any]) -> bool:
        if (
            self._nonce is None
            or opened.session != self._pending_peer
            or not secrets.compare_digest(str(body.get("nonce")), self._nonce)
        ):
            return False
        self._nonce = self._pending_peer = None
        self._establish(opened)
        return True

    def _establish(self, opened: Opened) -> None:
        if opened.session != self.peer:
            self._guard.reset()
        self.peer = opened.session
        self._guard.accept(opened.session, opened.seq)


__all__ = ["WILL_SEQ", "Channel", "SealError"]
