"""Products, their components, image gallery and kits (reference 3.5)."""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from aiohttp import BodyPartReader, web

from ...errors import BadRequest, ValidationFailed
from ...services.catalogue import (
    ALL_COMPONENTS_SCHEMA,
    COMPONENT_SCHEMA,
    IMAGE_SCHEMA,
    PRODUCT_SCHEMA,
    ProductService,
)
from ...services.images import MAX_IMAGE_BYTES, ImageService, too_large
from ...services.kit_view import PRODUCT_DETAIL_SCHEMA
from ...services.kits import KitService
from ...services.skus import SKU_SCHEMA, SkuService
from ..framework import (
    BOOL_STRING,
    MULTIPART_ERRORS,
    Ctx,
    RouteTable,
    created,
    nullable,
    ok,
    page_query,
    paged,
    text,
)
from ..links import product_links, with_image_urls
from ._business import DELETED, HEX, ID, integer
from .skus import SKU_BODY

routes = RouteTable("Products", "Products, SKUs under them, components, images and kits.")

_PRODUCT_FIELDS: dict[Any, Any] = {
    vol.Optional("description"): nullable(text(2000)),
    vol.Optional("category"): nullable(text(100)),
    vol.Optional("requires_assembly"): bool,
    vol.Optional("requires_post_processing"): bool,
    vol.Optional("wiki_id"): nullable(ID),
    vol.Optional("print_file_id"): nullable(ID),
    vol.Optional("is_active"): bool,
}
COMPONENT = {
    vol.Required("component_name"): text(200, 1),
    vol.Optional("component_type"): nullable(text(100)),
    vol.Optional("quantity_required", default=1): integer(1, 100000),
    vol.Optional("notes"): nullable(text(2000)),
}
KIT_BODY = {
    vol.Required("name"): text(200, 1),
    vol.Optional("description"): nullable(text(2000)),
    vol.Optional("category"): nullable(text(100)),
    vol.Required("variants"): vol.All(
        [
            {
                vol.Required("sku"): text(100, 1),
                vol.Required("color"): text(50, 1),
                vol.Optional("hex_code"): nullable(HEX),
                vol.Optional("filament_type"): nullable(text(50)),
                vol.Optional("low_stock_threshold"): nullable(integer(0, 10**9)),
            }
        ],
        vol.Length(min=1, max=100),
    ),
    vol.Required("parts"): vol.All(
        [
            {
                vol.Required("name"): text(200, 1),
                vol.Required("print_file_id"): ID,
                vol.Optional("quantity_per_kit", default=1): integer(1, 1000),
                vol.Optional("fixed_color"): nullable(text(50)),
                vol.Optional("filament_type"): nullable(text(50)),
                vol.Optional("requires_assembly", default=False): bool,
                vol.Optional("components"): [COMPONENT],
            }
        ],
        vol.Length(min=1, max=100),
    ),
    vol.Optional("bundle_extras"): vol.All(
        [
            {
                vol.Required("inventory_item_id"): ID,
                vol.Optional("quantity_required", default=1): integer(1, 100000),
                vol.Optional("sku"): nullable(text(100, 1)),
            }
        ],
        vol.Length(max=100),
    ),
}


@routes.get(
    "/products",
    scope="read",
    summary="List products",
    query={
        vol.Optional("category"): text(100, 1),
        vol.Optional("is_active"): BOOL_STRING,
        vol.Optional("search"): text(120, 1),
        **page_query(),
    },
    paginated=True,
    response=[PRODUCT_SCHEMA],
)
async def list_products(ctx: Ctx) -> web.StreamResponse:
    """Sorted by name; internal kit-part products are never listed."""
    q = ctx.query
    rows = await ProductService(ctx.farm).list(
        category=q.get("category"),
        is_active=q.get("is_active"),
        search=q.get("search"),
        limit=q["limit"],
        offset=q["offset"],
    )
    return paged([product_links(row) for row in rows], q["limit"], q["offset"])


@routes.post(
    "/products",
    scope="write",
    summary="Create a product",
    status=201,
    body={vol.Required("name"): text(200, 1), **_PRODUCT_FIELDS},
    errors=("DUPLICATE_NAME", "PRINT_FILE_NOT_FOUND", "ARTICLE_NOT_FOUND"),
    response=PRODUCT_SCHEMA,
)
async def create_product(ctx: Ctx) -> web.StreamResponse:
    return created(product_links(await ProductService(ctx.farm).create(ctx.body)))


@routes.get(
    "/products/categories",
    scope="read",
    summary="Distinct product categories",
    response=[str],
)
async def product_categories(ctx: Ctx) -> web.StreamResponse:
    return ok(await ProductService(ctx.farm).categories())


@routes.get(
    "/products/components",
    scope="read",
    summary="Every product's components",
    response=[ALL_COMPONENTS_SCHEMA],
)
async def list_all_product_components(ctx: Ctx) -> web.StreamResponse:
    return ok(await ProductService(ctx.farm).all_components())


@routes.post(
    "/products/kits",
    scope="write",
    summary="Create a kit",
    status=201,
    body=KIT_BODY,
    errors=("PRINT_FILE_NOT_FOUND", "UNKNOWN_INVENTORY_ITEM", "DUPLICATE_NAME", "DUPLICATE_SKU"),
    response=PRODUCT_DETAIL_SCHEMA,
)
async def create_kit(ctx: Ctx) -> web.StreamResponse:
    """Atomically creates the kit product, its internal part products, one composite SKU
    per variant, one child SKU per (part, colour), and the BOM wiring."""
    return created(product_links(await KitService(ctx.farm).create(ctx.body)))


@routes.get(
    "/products/{id}",
    scope="read",
    summary="Get a product",
    errors=("PRODUCT_NOT_FOUND",),
    response=PRODUCT_DETAIL_SCHEMA,
)
async def get_product(ctx: Ctx) -> web.StreamResponse:
    return ok(product_links(await ProductService(ctx.farm).get(ctx.params["id"])))


@routes.patch(
    "/products/{id}",
    scope="write",
    summary="Update a product",
    body={vol.Optional("name"): text(200, 1), **_PRODUCT_FIELDS},
    errors=("PRODUCT_NOT_FOUND", "DUPLICATE_NAME", "PRINT_FILE_NOT_FOUND", "ARTICLE_NOT_FOUND"),
    response=PRODUCT_SCHEMA,
)
async def update_product(ctx: Ctx) -> web.StreamResponse:
    return ok(product_links(await ProductService(ctx.farm).update(ctx.params["id"], ctx.body)))


@routes.put(
    "/products/{id}/kit",
    scope="write",
    summary="Replace a kit",
    body=KIT_BODY,
    errors=(
        "PRODUCT_NOT_FOUND",
        "NOT_A_KIT",
        "PART_IN_EXTERNAL_BOM",
        "SKU_IN_USE_BY_ORDER",
        "PRINT_FILE_NOT_FOUND",
        "UNKNOWN_INVENTORY_ITEM",
        "DUPLICATE_NAME",
        "DUPLICATE_SKU",
    ),
    response=PRODUCT_DETAIL_SCHEMA,
)
async def replace_kit(ctx: Ctx) -> web.StreamResponse:
    """Atomic replace; SKUs whose code survives keep their finished-goods stock."""
    return ok(product_links(await KitService(ctx.farm).replace(ctx.params["id"], ctx.body)))


@routes.post(
    "/products/{id}/skus",
    scope="write",
    summary="Create a SKU under a product",
    status=201,
    body=SKU_BODY,
    errors=("PRODUCT_NOT_FOUND", "DUPLICATE_SKU"),
    response=SKU_SCHEMA,
)
async def create_product_sku(ctx: Ctx) -> web.StreamResponse:
    return created(await SkuService(ctx.farm).create(ctx.params["id"], ctx.body))


# --- components -------------------------------------------------------------------


@routes.get(
    "/products/{id}/components",
    scope="read",
    summary="A product's components",
    errors=("PRODUCT_NOT_FOUND",),
    response=[COMPONENT_SCHEMA],
)
async def list_product_components(ctx: Ctx) -> web.StreamResponse:
    return ok(await ProductService(ctx.farm).components(ctx.params["id"]))


@routes.post(
    "/products/{id}/components",
    scope="write",
    summary="Add (or replace) components",
    body={
        vol.Required("components"): vol.All([COMPONENT], vol.Length(min=0, max=200)),
        vol.Optional("replace", default=False): bool,
    },
    errors=("PRODUCT_NOT_FOUND",),
    response=[COMPONENT_SCHEMA],
)
async def add_product_components(ctx: Ctx) -> web.StreamResponse:
    """Assembly aids (screws, labels), not the BOM. `replace: true` replaces the list."""
    return ok(
        await ProductService(ctx.farm).add_components(
            ctx.params["id"], ctx.body["components"], replace=ctx.body["replace"]
        )
    )


@routes.delete(
    "/products/{id}/components",
    scope="write",
    summary="Remove all components",
    errors=("PRODUCT_NOT_FOUND",),
    response={vol.Required("deleted"): int},
)
async def delete_product_components(ctx: Ctx) -> web.StreamResponse:
    return ok(await ProductService(ctx.farm).delete_components(ctx.params["id"]))


# --- images -------------------------------------------------------------------------


@routes.get(
    "/products/{id}/images",
    scope="read",
    summary="A product's gallery",
    errors=("PRODUCT_NOT_FOUND",),
    response=[IMAGE_SCHEMA],
)
async def list_images(ctx: Ctx) -> web.StreamResponse:
    """Sorted by `sort_order`; the first image is the product's `image_url`."""
    product_id = ctx.params["id"]
    return ok(with_image_urls(product_id, await ImageService(ctx.farm).list(product_id)))


@routes.post(
    "/products/{id}/images",
    scope="write",
    summary="Upload an image",
    status=201,
    body_kind="multipart",
    errors=(
        "PRODUCT_NOT_FOUND",
        "IMAGE_CAP_REACHED",
        "FILE_TOO_LARGE",
        "INVALID_FILE_TYPE",
        "INVALID_CONTENT_TYPE",
        "NO_FILE",
    ),
    response=IMAGE_SCHEMA,
)
async def upload_image(ctx: Ctx) -> web.StreamResponse:
    """Multipart field `file`: JPEG, PNG, WebP or GIF (sniffed from the bytes), at most 5 MB."""
    data = await _read_upload(ctx.request)
    product_id = ctx.params["id"]
    image = await ImageService(ctx.farm).add(product_id, data)
    return created(with_image_urls(product_id, [image])[0])


@routes.put(
    "/products/{id}/images/order",
    scope="write",
    summary="Reorder the gallery",
    body={vol.Required("order"): vol.All([ID], vol.Length(max=100))},
    errors=("PRODUCT_NOT_FOUND", "INVALID_ORDER"),
    response=[IMAGE_SCHEMA],
)
async def reorder_images(ctx: Ctx) -> web.StreamResponse:
    """`order` must list every image id exactly once."""
    product_id = ctx.params["id"]
    images = await ImageService(ctx.farm).reorder(product_id, ctx.body["order"])
    return ok(with_image_urls(product_id, images))


@routes.get(
    "/products/{id}/images/{imageId}",
    scope="read",
    summary="Download an image",
    response_kind="image",
    errors=("PRODUCT_NOT_FOUND", "IMAGE_NOT_FOUND"),
)
async def download_image(ctx: Ctx) -> web.StreamResponse:
    image = await ImageService(ctx.farm).file(ctx.params["id"], ctx.params["imageId"])
    return web.Response(
        body=image.path.read_bytes(),
        content_type=image.content_type,
        headers={"Cache-Control": "public, max-age=86400"},
    )


@routes.delete(
    "/products/{id}/images/{imageId}",
    scope="write",
    summary="Delete an image",
    errors=("PRODUCT_NOT_FOUND", "IMAGE_NOT_FOUND"),
    response=DELETED,
)
async def delete_image(ctx: Ctx) -> web.StreamResponse:
    return ok(await ImageService(ctx.farm).delete(ctx.params["id"], ctx.params["imageId"]))


async def _read_upload(request: web.Request) -> bytes:
    """The first file part of a multipart body, refusing more than 5 MB."""
    if not request.content_type.startswith("multipart/"):
        raise BadRequest("Content-Type must be multipart/form-data", code="INVALID_CONTENT_TYPE")
    try:
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader) or (
                part.name not in ("file", "image") and not part.filename
            ):
                continue
            chunks: list[bytes] = []
            size = 0
            while chunk := await part.read_chunk(64 * 1024):
                size += len(chunk)
                if size > MAX_IMAGE_BYTES:
                    while await part.read_chunk(256 * 1024):  # drain so the client sees the reply
                        pass
                    raise too_large()
                chunks.append(chunk)
            return b"".join(chunks)
    except MULTIPART_ERRORS as err:
        raise ValidationFailed(f"Invalid body: malformed multipart data ({err})") from None
    raise BadRequest("No image file provided (multipart field `file` or `image`)", code="NO_FILE")
