"""Product image gallery: uploads sniffed by magic bytes, a 20-image cap, reorder, download.

Files live under ``Settings.data_dir / "images"``; their paths are never returned.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, select, update

from ..errors import BadRequest, Conflict, NotFound, TooLarge
from ..storage.tables.catalogue import product_images
from ..timeutil import new_id, utcnow
from .catalogue import image_view, images_of, product_row

if TYPE_CHECKING:
    from ..farm import Farm

Strings = list[str]
Rows = list[dict[str, Any]]  # (class methods named `list` shadow the builtin)

MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_IMAGES = 20
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif"}


def sniff_image(head: bytes) -> str | None:
    """The image type from its magic bytes (never from the name or Content-Type)."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def too_large() -> TooLarge:
    return TooLarge(
        f"Image is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB",
        code="FILE_TOO_LARGE",
        extra={"max_bytes": MAX_IMAGE_BYTES},
    )


@dataclass(slots=True)
class ImageFile:
    path: Path
    content_type: str
    size: int


class ImageService:
    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self.db = farm.db
        self.root = farm.settings.data_dir / "images"

    async def list(self, product_id: str) -> Rows:
        async with self.db.read() as conn:
            await product_row(conn, product_id)
            return (await images_of(conn, [product_id]))[product_id]

    async def add(self, product_id: str, data: bytes) -> dict[str, Any]:
        if len(data) > MAX_IMAGE_BYTES:
            raise too_large()
        if not data:
            raise BadRequest("The image is empty", code="INVALID_IMAGE")
        content_type = sniff_image(data[:16])
        if content_type is None:
            raise BadRequest(
                "Unsupported image: only JPEG, PNG, WebP and GIF are accepted",
                code="INVALID_FILE_TYPE",
            )
        image_id = new_id()
        key = f"{product_id}/{image_id}.{EXTENSIONS[content_type]}"
        path = self.root / key
        async with self.db.begin() as conn:
            await product_row(conn, product_id, for_update=True)
            stats = (
                await conn.execute(
                    select(func.count(), func.max(product_images.c.sort_order)).where(
                        product_images.c.product_id == product_id
                    )
                )
            ).one()
            if int(stats[0]) >= MAX_IMAGES:
                raise Conflict(
                    f"A product can have at most {MAX_IMAGES} images", code="IMAGE_CAP_REACHED"
                )
            await asyncio.to_thread(_write, path, data)
            row = {
                "id": image_id,
                "product_id": product_id,
                "sort_order": 0 if stats[1] is None else int(stats[1]) + 1,
                "content_type": content_type,
                "size_bytes": len(data),
                "storage_key": key,
                "created_at": utcnow(),
            }
            try:
                await conn.execute(insert(product_images).values(**row))
            except Exception:
                path.unlink(missing_ok=True)
                raise
        return image_view(row)

    async def file(self, product_id: str, image_id: str) -> ImageFile:
        async with self.db.read() as conn:
            row = await self._row(conn, product_id, image_id)
        path = self.root / row["storage_key"]
        if not path.is_file():
            raise NotFound("Image not found", code="IMAGE_NOT_FOUND")
        return ImageFile(path, row["content_type"], int(row["size_bytes"]))

    async def delete(self, product_id: str, image_id: str) -> dict[str, Any]:
        async with self.db.begin() as conn:
            row = await self._row(conn, product_id, image_id)
            await conn.execute(delete(product_images).where(product_images.c.id == image_id))
        (self.root / row["storage_key"]).unlink(missing_ok=True)
        return {"id": image_id, "deleted": True}

    async def reorder(self, product_id: str, order: Strings) -> Rows:
        async with self.db.begin() as conn:
            await product_row(conn, product_id, for_update=True)
            current = {
                r.id
                for r in await conn.execute(
                    select(product_images.c.id).where(product_images.c.product_id == product_id)
                )
            }
            if len(order) != len(set(order)) or set(order) != current:
                raise BadRequest(
                    "order must list every image of the product exactly once", code="INVALID_ORDER"
                )
            for index, image_id in enumerate(order):
                await conn.execute(
                    update(product_images)
                    .where(product_images.c.id == image_id)
                    .values(sort_order=index)
                )
            return (await images_of(conn, [product_id]))[product_id]

    async def _row(self, conn: Any, product_id: str, image_id: str) -> dict[str, Any]:
        await product_row(conn, product_id)
        row = (
            (
                await conn.execute(
                    select(product_images).where(
                        product_images.c.id == image_id, product_images.c.product_id == product_id
                    )
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound("Image not found", code="IMAGE_NOT_FOUND")
        return dict(row)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)
