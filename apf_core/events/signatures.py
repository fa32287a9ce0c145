"""Webhook signatures: ``X-APF-Signature: sha256=<hex HMAC-SHA256 of the raw body>``."""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "X-APF-Signature"
EVENT_ID_HEADER = "X-APF-Event-Id"
EVENT_TYPE_HEADER = "X-APF-Event-Type"
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_hex(24)


def sign(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """Constant-time check of a received signature header."""
    if not header:
        return False
    return hmac.compare_digest(sign(secret, body), header.strip())
