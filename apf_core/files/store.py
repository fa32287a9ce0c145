"""On-disk layout of print files and the streaming receiver for uploads.

Layout under ``Settings.files_dir`` (keys are relative to it, never returned
to clients except the opaque upload ``storage_key``)::

    uploads/<file_id>/<filename>      bytes PUT with an upload token (replay overwrites)
    <file_id>/v<n>/<filename>         a stored version
    <file_id>/v<n>/thumbnail.png      its thumbnail (or .jpg)
    .incoming/<uuid>.part             a body being received (removed on any failure)
    .claimed/<uuid>/<filename>        an upload being turned into a file
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from .metadata import SUPPORTED_EXTENSIONS, file_kind

UPLOADS = "uploads"
INCOMING = ".incoming"
CLAIMED = ".claimed"
WRITE_BUFFER = 1 << 20
#: file systems cap one path segment at 255 bytes; the server adds no prefix to the name
MAX_NAME_BYTES = 255

#: characters never allowed in a stored file name (path separators, shell/Windows specials)
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_UPLOAD_KEY = re.compile(rf"^{UPLOADS}/({_UUID})/([^/]+)$")


class PayloadTooLarge(Exception):
    """The body went past the size cap (the partial temp file is already removed)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"File is larger than the {limit // (1024 * 1024)} MB limit")
        self.limit = limit


def filename_problem(name: str) -> str | None:
    """Why ``name`` is not an acceptable print-file name, or None when it is."""
    if not 1 <= len(name) <= 255:
        return "must be 1-255 characters"
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text"
    if len(encoded) > MAX_NAME_BYTES:
        return f"must be at most {MAX_NAME_BYTES} bytes in UTF-8 (a file system limit)"
    if name in (".", "..") or _UNSAFE.search(name) or name != name.strip():
        return "must be a single safe file name (no path separators or control characters)"
    kind = file_kind(name)
    if kind is None:
        return "must end in " + ", ".join(f".{ext}" for ext in SUPPORTED_EXTENSIONS)
    stem = name[: -len(kind) - 1]
    if not stem.strip(". "):
        return "must have a name before the extension"
    return None


def upload_key(file_id: str, filename: str) -> str:
    return f"{UPLOADS}/{file_id}/{filename}"


def parse_upload_key(key: str) -> tuple[str, str] | None:
    """(file_id, filename) of a well-formed upload storage_key, else None."""
    match = _UPLOAD_KEY.match(key)
    if match is None or filename_problem(match.group(2)) is not None:
        return None
    return match.group(1), match.group(2)


def version_key(file_id: str, number: int, filename: str) -> str:
    return f"{file_id}/v{number}/{filename}"


def thumbnail_key(file_id: str, number: int, mime: str) -> str:
    extension = "jpg" if mime == "image/jpeg" else "png"
    return f"{file_id}/v{number}/thumbnail.{extension}"


class FileStore:
    """Paths and file moves; every key is resolved inside ``root``."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"storage key escapes the files directory: {key!r}")
        return path

    async def receive(self, chunks: AsyncIterator[bytes]) -> tuple[Path, int]:
        """Stream ``chunks`` into a temp file; at most ``max_bytes`` are accepted."""
        temp = self.root / INCOMING / f"{uuid.uuid4().hex}.part"
        await asyncio.to_thread(temp.parent.mkdir, parents=True, exist_ok=True)
        size = 0
        buffer = bytearray()
        stream: BinaryIO = await asyncio.to_thread(temp.open, "wb")
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > self.max_bytes:
                    raise PayloadTooLarge(self.max_bytes)
                buffer += chunk
                if len(buffer) >= WRITE_BUFFER:
                    await asyncio.to_thread(stream.write, bytes(buffer))
                    buffer.clear()
            if buffer:
                await asyncio.to_thread(stream.write, bytes(buffer))
        except BaseException:
            await asyncio.to_thread(_close_and_remove, stream, temp)
            raise
        await asyncio.to_thread(stream.close)
        return temp, size

    def publish(self, temp: Path, key: str) -> Path:
        """Atomically move a received temp file to ``key`` (replacing what was there)."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        temp.replace(target)
        return target

    def claim(self, key: str) -> Path | None:
        """Move the bytes at ``key`` aside so nothing else can consume them."""
        source = self.path(key)
        claimed = self.root / CLAIMED / uuid.uuid4().hex / source.name
        claimed.parent.mkdir(parents=True, exist_ok=True)
        try:
            source.replace(claimed)
        except FileNotFoundError:
            claimed.parent.rmdir()
            return None
        return claimed

    def install(self, claimed: Path, key: str, thumbnail: tuple[str, bytes] | None) -> None:
        """Move a claimed upload to its version ``key`` and write its thumbnail."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        claimed.replace(target)
        discard_claim(claimed)
        if thumbnail is not None:
            self.path(thumbnail[0]).write_bytes(thumbnail[1])

    def sweep(self, older_than_seconds: float) -> int:
        """Remove leftovers of interrupted uploads (temp and claimed files) older
        than the given age; returns how many entries were removed."""
        cutoff = time.time() - older_than_seconds
        removed = 0
        for area in (INCOMING, CLAIMED):
            folder = self.root / area
            if not folder.is_dir():
                continue
            for entry in folder.iterdir():
                with contextlib.suppress(OSError):
                    if entry.lstat().st_mtime >= cutoff:
                        continue
                    if entry.is_dir() and not entry.is_symlink():
                        shutil.rmtree(entry)
                    else:
                        entry.unlink()
                    removed += 1
        return removed

    def remove_tree(self, key: str) -> None:
        shutil.rmtree(self.path(key), ignore_errors=True)

    def remove_upload(self, key: str) -> None:
        """Forget a staged upload (its file and its now-empty folder)."""
        path = self.path(key)
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            path.parent.rmdir()


def discard_claim(claimed: Path) -> None:
    """Remove a claimed upload and its private folder."""
    claimed.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        claimed.parent.rmdir()


def _close_and_remove(stream: BinaryIO, temp: Path) -> None:
    stream.close()
    temp.unlink(missing_ok=True)
