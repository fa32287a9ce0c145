"""The server's master key, which seals what the server must keep of each hub's token.

``APF_SECRET_KEY`` (64 hex digits or urlsafe base64 of 32 bytes) wins; otherwise
``<data dir>/secret.key`` is created on first use (mode 0600). The database
alone, a backup of it included, therefore holds no usable hub key.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_FILE = "secret.key"


class VaultError(RuntimeError):
    """The master key is missing, malformed or not the one that sealed the data."""


def _decode(text: str) -> bytes:
    text = text.strip()
    try:
        raw = bytes.fromhex(text) if len(text) == 64 else base64.urlsafe_b64decode(text + "==")
    except (ValueError, binascii.Error):
        raise VaultError("APF_SECRET_KEY must be 32 bytes as hex or base64") from None
    if len(raw) != 32:
        raise VaultError("APF_SECRET_KEY must be 32 bytes as hex or base64")
    return raw


def load_master_key(data_dir: Path) -> bytes:
    env = os.environ.get("APF_SECRET_KEY")
    if env:
        return _decode(env)
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(os.urandom(32).hex() + "\n")
    return _decode(path.read_text())


def seal_secret(master: bytes, secret: bytes, context: str) -> str:
    """``secret`` sealed for storage, bound to ``context`` (e.g. the hub id)."""
    nonce = os.urandom(12)
    sealed = nonce + AESGCM(master).encrypt(nonce, secret, context.encode())
    return base64.urlsafe_b64encode(sealed).decode()


def open_secret(master: bytes, stored: str, context: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(stored)
        return AESGCM(master).decrypt(raw[:12], raw[12:], context.encode())
    except (ValueError, binascii.Error, InvalidTag):
        raise VaultError("a stored hub key cannot be opened with this master key") from None
