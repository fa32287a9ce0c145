"""Wiki (reference 3.10): articles with inline sections, publishing."""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from aiohttp import web

from ...services.wiki import (
    ARTICLE_DETAIL_SCHEMA,
    ARTICLE_SCHEMA,
    DIFFICULTIES,
    SECTION_TYPES,
    SLUG_PATTERN,
    WikiService,
)
from ..framework import BOOL_STRING, Ctx, RouteTable, created, nullable, ok, page_query, paged, text
from ._business import DELETED

routes = RouteTable("Wiki", "How-to articles for assembly, maintenance and products.")


#: offsets past this fail in the database drivers (64-bit overflow); no list gets that long
MAX_OFFSET = 2_147_483_647


def _page_query() -> dict[Any, Any]:
    """page_query() with an upper bound on ``offset`` (a huge one was a 500)."""
    query = page_query()
    query[vol.Optional("offset", default=0)] = vol.All(
        vol.Coerce(int), vol.Range(min=0, max=MAX_OFFSET)
    )
    return query


#: integer columns are 32-bit (PostgreSQL ``integer``)
MAX_INT = 2_147_483_647


def _int(minimum: int = 0) -> vol.All:
    def not_bool(value: Any) -> Any:
        if isinstance(value, bool):
            raise vol.Invalid("expected an integer")
        return value

    return vol.All(
        not_bool, vol.Any(int, msg="expected an integer"), vol.Range(min=minimum, max=MAX_INT)
    )


def _number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise vol.Invalid("expected a number")
    return value


SECTION = {
    vol.Optional("id"): text(64, 1),
    vol.Optional("type"): vol.In(SECTION_TYPES, msg=f"must be one of: {', '.join(SECTION_TYPES)}"),
    vol.Optional("order"): _number,
    vol.Optional("number"): nullable(_number),
    vol.Optional("title"): nullable(text(200)),
    vol.Optional("content"): nullable(text(20000)),
    vol.Optional("description"): nullable(text(5000)),
    vol.Optional("image_url"): nullable(text(500)),
    vol.Optional("notes"): nullable(text(5000)),
    vol.Optional("warnings"): nullable([text(1000)]),
    vol.Optional("difficulty"): nullable(vol.In(DIFFICULTIES)),
}
SLUG = vol.All(
    text(200, 1),
    vol.Match(
        SLUG_PATTERN, msg="must be lowercase letters, digits and single hyphens (e.g. my-article)"
    ),
)
_FIELDS: dict[Any, Any] = {
    vol.Optional("content"): nullable(text(200000)),
    vol.Optional("excerpt"): nullable(text(500)),
    vol.Optional("category"): nullable(text(100)),
    vol.Optional("tags"): nullable([text(50, 1)]),
    vol.Optional("product_id"): nullable(text(64, 1)),
    vol.Optional("sku_id"): nullable(text(64, 1)),
    vol.Optional("meta_title"): nullable(text(200)),
    vol.Optional("meta_description"): nullable(text(500)),
    vol.Optional("featured_image_url"): nullable(text(500)),
    vol.Optional("description"): nullable(text(5000)),
    vol.Optional("estimated_time_minutes"): nullable(_int()),
    vol.Optional("difficulty"): nullable(vol.In(DIFFICULTIES, msg="must be easy, medium or hard")),
    vol.Optional("tools_required"): nullable([text(100, 1)]),
    vol.Optional("sections"): nullable([SECTION]),
}
CREATE = {
    vol.Required("title"): text(200, 1),
    vol.Optional("slug"): nullable(SLUG),
    vol.Optional("is_published", default=False): bool,
    **_FIELDS,
}
PATCH = {vol.Optional("title"): text(200, 1), vol.Optional("slug"): SLUG, **_FIELDS}


def _key_id(ctx: Ctx) -> str | None:
    return ctx.key.id if ctx.key is not None else None


@routes.get(
    "/wiki",
    scope="read",
    summary="List articles (most recently updated first)",
    query={
        vol.Optional("category"): text(100, 1),
        vol.Optional("is_published"): BOOL_STRING,
        vol.Optional("search"): text(200, 1),
        vol.Optional("product_id"): text(64, 1),
        vol.Optional("sku_id"): text(64, 1),
        **_page_query(),
    },
    paginated=True,
    response=[ARTICLE_SCHEMA],
)
async def list_articles(ctx: Ctx) -> web.StreamResponse:
    """The list projection: no `content`, no `sections`. `search` matches title, excerpt,
    description and content (case-insensitive)."""
    q = ctx.query
    rows = await WikiService(ctx.farm).list(
        category=q.get("category"),
        is_published=q.get("is_published"),
        search=q.get("search"),
        product_id=q.get("product_id"),
        sku_id=q.get("sku_id"),
        limit=q["limit"],
        offset=q["offset"],
    )
    return paged(rows, q["limit"], q["offset"])


@routes.get(
    "/wiki/categories", scope="read", summary="Distinct article categories (sorted)", response=[str]
)
async def wiki_categories(ctx: Ctx) -> web.StreamResponse:
    return ok(await WikiService(ctx.farm).categories())


@routes.get(
    "/wiki/{id}",
    scope="read",
    summary="Get an article by id or slug",
    errors=("ARTICLE_NOT_FOUND",),
    response=ARTICLE_DETAIL_SCHEMA,
)
async def get_article(ctx: Ctx) -> web.StreamResponse:
    """`{id}` is tried as an id first, then as a slug."""
    return ok(await WikiService(ctx.farm).get(ctx.params["id"]))


@routes.post(
    "/wiki",
    scope="write",
    summary="Create an article",
    body=CREATE,
    status=201,
    errors=("DUPLICATE_SLUG", "PRODUCT_NOT_FOUND", "SKU_NOT_FOUND"),
    response=ARTICLE_DETAIL_SCHEMA,
)
async def create_article(ctx: Ctx) -> web.StreamResponse:
    """`slug` is generated from the title when omitted; `is_published: true` stamps
    `published_at`."""
    return created(await WikiService(ctx.farm).create(ctx.body, _key_id(ctx)))


@routes.patch(
    "/wiki/{id}",
    scope="write",
    summary="Update an article",
    body=PATCH,
    errors=("ARTICLE_NOT_FOUND", "DUPLICATE_SLUG", "PRODUCT_NOT_FOUND", "SKU_NOT_FOUND"),
    response=ARTICLE_DETAIL_SCHEMA,
)
async def update_article(ctx: Ctx) -> web.StreamResponse:
    """Partial update. `is_published` is not accepted here: use publish/unpublish."""
    return ok(await WikiService(ctx.farm).update(ctx.params["id"], ctx.body, _key_id(ctx)))


@routes.delete(
    "/wiki/{id}",
    scope="write",
    summary="Delete an article",
    errors=("ARTICLE_NOT_FOUND",),
    response=DELETED,
)
async def delete_article(ctx: Ctx) -> web.StreamResponse:
    return ok(await WikiService(ctx.farm).delete(ctx.params["id"]))


@routes.post(
    "/wiki/{id}/publish",
    scope="write",
    summary="Publish an article",
    errors=("ARTICLE_NOT_FOUND", "ALREADY_PUBLISHED"),
    response=ARTICLE_DETAIL_SCHEMA,
)
async def publish_article(ctx: Ctx) -> web.StreamResponse:
    return ok(await WikiService(ctx.farm).set_published(ctx.params["id"], True, _key_id(ctx)))


@routes.post(
    "/wiki/{id}/unpublish",
    scope="write",
    summary="Unpublish an article",
    errors=("ARTICLE_NOT_FOUND", "ALREADY_UNPUBLISHED"),
    response=ARTICLE_DETAIL_SCHEMA,
)
async def unpublish_article(ctx: Ctx) -> web.StreamResponse:
    """Keeps `published_at`."""
    return ok(await WikiService(ctx.farm).set_published(ctx.params["id"], False, _key_id(ctx)))
