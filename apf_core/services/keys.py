"""API keys: minting, verification (SHA-256 only), listing and revocation."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update

from ..aio import SingleFlight
from ..errors import NotFound, Unauthorized
from ..storage.db import Database
from ..storage.tables.spine import api_keys
from ..timeutil import iso, new_id, utcnow

KEY_PREFIX = "apf_live_"
SCOPES = ("read", "write", "control")
#: legacy per-resource scope names accepted as aliases of ``read``
LEGACY_READ_SCOPES = frozenset({"printers:read", "jobs:read", "inventory:read"})
_KEY_RE = re.compile(r"^apf_live_[0-9a-f]{64}$")
#: how long a verified key is trusted from memory before the database is asked again
CACHE_SECONDS = 1.0


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    name: str
    scopes: frozenset[str]
    rate_limit: int | None
    expires_at: datetime | None
    revoked_at: datetime | None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class KeyService:
    def __init__(self, db: Database) -> None:
        self._db = db
        #: Authorization value -> (when looked up, its key or None); in memory only, never logged
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}
        #: bumped by each revocation: a read that a revocation overtook is neither kept
        #: nor shared with requests that arrive after it
        self._generation = 0
        self._loads: SingleFlight[tuple[str, int], ApiKey | None] = SingleFlight()

    async def create(
        self,
        name: str,
        scopes: list[str],
        *,
        expires_in_days: int | None = None,
        rate_limit: int | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """Mint a key. Returns the full key (shown once) and its public record."""
        name = name.strip()
        if not name:
            raise ValueError("name must not be empty")
        if expires_in_days is not None and expires_in_days < 1:
            raise ValueError("expiry must be at least 1 day (omit it for a key that never expires)")
        unknown = set(scopes) - set(SCOPES)
        if unknown or not scopes:
            raise ValueError(f"scopes must be a non-empty subset of {', '.join(SCOPES)}")
        key = KEY_PREFIX + secrets.token_hex(32)
        now = utcnow()
        row = {
            "id": new_id(),
            "name": name,
            "key_hash": hash_key(key),
            "key_prefix": key[: len(KEY_PREFIX) + 6],
            "scopes": sorted(set(scopes), key=SCOPES.index),
            "rate_limit": rate_limit,
            "created_at": now,
            "expires_at": None if expires_in_days is None else now + timedelta(expires_in_days),
        }
        async with self._db.begin() as conn:
            await conn.execute(insert(api_keys).values(**row))
        return key, _public(row)

    async def list(self) -> list[dict[str, Any]]:
        async with self._db.read() as conn:
            rows = (await conn.execute(select(api_keys).order_by(api_keys.c.created_at))).mappings()
            return [_public(dict(r)) for r in rows]

    async def count_active(self) -> int:
        return sum(1 for k in await self.list() if k["revoked_at"] is None)

    async def revoke(self, key_id: str) -> None:
        async with self._db.begin() as conn:
            result = await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            if result.rowcount == 0:
                exists = (
                    await conn.execute(select(api_keys.c.id).where(api_keys.c.id == key_id))
                ).first()
                if exists is None:
                    raise NotFound(f"API key not found: {key_id}")
        self._generation += 1
        self._cache.clear()

    def verified(self, presented: str | None) -> ApiKey | None:
        """The key behind an ``Authorization`` value verified in the last ``CACHE_SECONDS``,
        without I/O; None when it must be looked up (:meth:`verify`). Raises 401 as
        :meth:`verify` does for a value known to be refused."""
        hit = self._cache.get(presented) if presented else None
        if hit is None or time.monotonic() - hit[0] >= CACHE_SECONDS:
            return None
        return _usable(hit[1])

    async def verify(self, presented: str | None) -> ApiKey:
        """Return the key behind an ``Authorization`` header value or raise 401."""
        return self.verified(presented) or _usable(await self._lookup(presented))

    async def _lookup(self, presented: str | None) -> ApiKey | None:
        """The key of a header value, from the database, kept in the memory cache under the
        whole value (which :meth:`verified` reads without parsing or hashing it again)."""
        if not presented:
            raise Unauthorized("Missing Authorization header", code="UNAUTHORIZED")
        scheme, _, token = presented.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("Authorization must be 'Bearer <api key>'", code="UNAUTHORIZED")
        if not _KEY_RE.match(token):
            raise Unauthorized("Invalid API key", code="TOKEN_INVALID")
        now = time.monotonic()
        digest = hash_key(token)
        # one database read per key, however many requests wait for it
        generation = self._generation
        key = await self._loads.run((digest, generation), lambda: self._load(digest))
        if generation == self._generation:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[presented] = (now, key)
        return key

    async def _load(self, digest: str) -> ApiKey | None:
        async with self._db.read() as conn:
            row = (
                await conn.execute(select(api_keys).where(api_keys.c.key_hash == digest))
            ).first()
        key = None
        if row is not None:
            key = ApiKey(
                id=row.id,
                name=row.name,
                scopes=frozenset(row.scopes),
                rate_limit=row.rate_limit,
                expires_at=row.expires_at,
                revoked_at=row.revoked_at,
            )
        return key


def _usable(key: ApiKey | None) -> ApiKey:
    """``key`` if it may be used now; 401 naming why not otherwise."""
    if key is None:
        raise Unauthorized("Invalid API key", code="TOKEN_INVALID")
    if key.revoked_at is not None:
        raise Unauthorized("API key has been revoked", code="TOKEN_REVOKED")
    if key.expires_at is not None and key.expires_at <= utcnow():
        raise Unauthorized("API key has expired", code="TOKEN_EXPIRED")
    return key


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "prefix": row["key_prefix"],
        "scopes": list(row["scopes"]),
        "rate_limit": row.get("rate_limit"),
        "created_at": iso(row["created_at"]),
        "expires_at": iso(row.get("expires_at")),
        "revoked_at": iso(row.get("revoked_at")),
    }
