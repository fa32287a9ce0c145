"""URLs of this server's own resources, added to service views at the edge (services
return ids; only the API layer knows where things are served)."""

from __future__ import annotations

from typing import Any

from .framework import BASE_PATH


def image_url(product_id: str, image_id: str) -> str:
    return f"{BASE_PATH}/products/{product_id}/images/{image_id}"


def with_image_urls(product_id: str, images: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each image of ``product_id`` with its download ``url``."""
    return [{**image, "url": image_url(product_id, image["id"])} for image in images]


def product_links(product: dict[str, Any]) -> dict[str, Any]:
    """A product view with its gallery's URLs; the first image is the hero ``image_url``."""
    gallery = with_image_urls(product["id"], product.get("images") or [])
    return {
        **product,
        "images": gallery,
        "image_url": gallery[0]["url"] if gallery else None,
    }
