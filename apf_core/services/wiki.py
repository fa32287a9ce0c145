"""Wiki articles: CRUD, id-or-slug lookup, publishing (reference 3.10).

``author_id`` / ``last_edited_by`` are set from the calling key and never returned.
"""

from __future__ import annotations

import builtins
import re
from typing import TYPE_CHECKING, Any

import voluptuous as vol
from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import BadRequest, Conflict, NotFound
from ..storage.tables.catalogue import products, skus
from ..storage.tables.wiki import wiki_articles
from ..timeutil import new_id, utcnow
from .common import fetch_page, project
from .row_schema import NUMBER, nullable, row_schema

if TYPE_CHECKING:
    from ..farm import Farm

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
DIFFICULTIES = ("easy", "medium", "hard")
SECTION_TYPES = ("subtitle", "step", "note", "warning")
LIST_FIELDS = (
    "id",
    "title",
    "slug",
    "excerpt",
    "category",
    "tags",
    "product_id",
    "sku_id",
    "is_published",
    "published_at",
    "meta_title",
    "meta_description",
    "featured_image_url",
    "description",
    "estimated_time_minutes",
    "difficulty",
    "tools_required",
    "created_at",
    "updated_at",
)
DETAIL_FIELDS = (*LIST_FIELDS, "content", "sections")
_LIST_FLAGS = ("tags", "tools_required")
#: a section as stored by :func:`normalise_sections`: ``id`` and ``order`` always, the rest
#: only when given (a null is dropped)
SECTION_SCHEMA = {
    vol.Required("id"): str,
    vol.Required("order"): NUMBER,
    vol.Optional("type"): vol.In(SECTION_TYPES),
    vol.Optional("number"): NUMBER,
    vol.Optional("title"): str,
    vol.Optional("content"): str,
    vol.Optional("description"): str,
    vol.Optional("image_url"): str,
    vol.Optional("notes"): str,
    vol.Optional("warnings"): [str],
    vol.Optional("difficulty"): vol.In(DIFFICULTIES),
}
_JSON_FIELDS = {
    "tags": [str],
    "tools_required": [str],
    "sections": [SECTION_SCHEMA],
    "difficulty": nullable(vol.In(DIFFICULTIES)),
}
ARTICLE_SCHEMA = row_schema(
    wiki_articles, LIST_FIELDS, {k: v for k, v in _JSON_FIELDS.items() if k in LIST_FIELDS}
)
ARTICLE_DETAIL_SCHEMA = row_schema(wiki_articles, DETAIL_FIELDS, _JSON_FIELDS)


def slugify(title: str) -> str:
    """Lowercase ASCII words joined by ``-`` (at most 200 characters)."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:200].strip("-")
    return slug or "article"


def article_view(row: dict[str, Any], *, detail: bool) -> dict[str, Any]:
    data = dict(row)
    for name in _LIST_FLAGS:
        data[name] = data.get(name) or []
    data["is_published"] = bool(data.get("is_published"))
    if detail:
        data["sections"] = data.get("sections") or []
    return project(data, DETAIL_FIELDS if detail else LIST_FIELDS)


def normalise_sections(sections: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Give each section an id and an order, and sort by order."""
    out = []
    for index, section in enumerate(sections or []):
        item = {k: v for k, v in section.items() if v is not None}
        item.setdefault("id", new_id())
        item.setdefault("order", index)
        out.append(item)
    return sorted(out, key=lambda s: (s["order"], s.get("number") or 0))


def _like(term: str) -> str:
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class WikiService:
    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self.db = farm.db

    async def list(
        self,
        *,
        category: str | None,
        is_published: bool | None,
        search: str | None,
        product_id: str | None,
        sku_id: str | None,
        limit: int,
        offset: int,
    ) -> list[dict[str, Any]]:
        t = wiki_articles
        query = select(t).order_by(t.c.updated_at.desc(), t.c.id.desc())
        if category is not None:
            query = query.where(t.c.category == category)
        if is_published is not None:
            query = query.where(t.c.is_published == is_published)
        if product_id is not None:
            query = query.where(t.c.product_id == product_id)
        if sku_id is not None:
            query = query.where(t.c.sku_id == sku_id)
        if search:
            pattern = _like(search)
            query = query.where(
                or_(
                    *(
                        func.lower(t.c[name]).like(pattern, escape="\\")
                        for name in ("title", "excerpt", "description", "content")
                    )
                )
            )
        async with self.db.read() as conn:
            rows = await fetch_page(conn, query, limit, offset)
        return [article_view(r, detail=False) for r in rows]

    async def categories(self) -> builtins.list[str]:
        t = wiki_articles
        query = (
            select(t.c.category)
            .where(t.c.category.is_not(None), t.c.category != "")
            .distinct()
            .order_by(t.c.category)
        )
        async with self.db.read() as conn:
            return [c for (c,) in (await conn.execute(query)).all()]

    async def get(self, id_or_slug: str) -> dict[str, Any]:
        """Tried as an id first, then as a slug."""
        async with self.db.read() as conn:
            row = await self._find(conn, id_or_slug)
        return article_view(row, detail=True)

    async def create(self, body: dict[str, Any], author_id: str | None) -> dict[str, Any]:
        now = utcnow()
        values = dict(body)
        values["slug"] = body.get("slug") or slugify(body["title"])
        values["sections"] = normalise_sections(body.get("sections"))
        published = bool(values.pop("is_published", False))
        row = {
            **values,
            "id": new_id(),
            "is_published": published,
            "published_at": now if published else None,
            "author_id": author_id,
            "last_edited_by": author_id,
            "created_at": now,
            "updated_at": now,
        }
        async with self.db.begin() as conn:
            await self._check_slug(conn, row["slug"], None)
            await self._check_links(conn, values)
            await self._write(conn, insert(wiki_articles).values(**row))
            return article_view(await self._by_id(conn, row["id"]), detail=True)

    async def update(
        self, article_id: str, changes: dict[str, Any], editor_id: str | None
    ) -> dict[str, Any]:
        values = dict(changes)
        if "sections" in values:
            values["sections"] = normalise_sections(values["sections"])
        async with self.db.begin() as conn:
            await self._by_id(conn, article_id, for_update=True)
            if values.get("slug"):
                await self._check_slug(conn, values["slug"], article_id)
            await self._check_links(conn, values)
            await self._write(
                conn,
                update(wiki_articles)
                .where(wiki_articles.c.id == article_id)
                .values(**values, last_edited_by=editor_id, updated_at=utcnow()),
            )
            return article_view(await self._by_id(conn, article_id), detail=True)

    async def set_published(
        self, article_id: str, published: bool, editor_id: str | None
    ) -> dict[str, Any]:
        """Publish stamps ``published_at``; unpublish keeps it."""
        t = wiki_articles
        async with self.db.begin() as conn:
            row = await self._by_id(conn, article_id, for_update=True)
            if bool(row["is_published"]) == published:
                if published:
                    raise BadRequest("Article is already published", code="ALREADY_PUBLISHED")
                raise BadRequest("Article is not published", code="ALREADY_UNPUBLISHED")
            now = utcnow()
            values: dict[str, Any] = {
                "is_published": published,
                "updated_at": now,
                "last_edited_by": editor_id,
            }
            if published:
                values["published_at"] = now
            await conn.execute(update(t).where(t.c.id == article_id).values(**values))
            return article_view(await self._by_id(conn, article_id), detail=True)

    async def delete(self, article_id: str) -> dict[str, Any]:
        async with self.db.begin() as conn:
            await self._by_id(conn, article_id, for_update=True)
            await conn.execute(delete(wiki_articles).where(wiki_articles.c.id == article_id))
        return {"id": article_id, "deleted": True}

    # --- helpers ------------------------------------------------------------
    async def _find(self, conn: AsyncConnection, id_or_slug: str) -> dict[str, Any]:
        t = wiki_articles
        for column in (t.c.id, t.c.slug):
            row = (await conn.execute(select(t).where(column == id_or_slug))).mappings().first()
            if row is not None:
                return dict(row)
        raise NotFound("Article not found", code="ARTICLE_NOT_FOUND")

    async def _by_id(
        self, conn: AsyncConnection, article_id: str, *, for_update: bool = False
    ) -> dict[str, Any]:
        query = select(wiki_articles).where(wiki_articles.c.id == article_id)
        if for_update:
            query = query.with_for_update()
        row = (await conn.execute(query)).mappings().first()
        if row is None:
            raise NotFound("Article not found", code="ARTICLE_NOT_FOUND")
        return dict(row)

    async def _check_slug(self, conn: AsyncConnection, slug: str, own_id: str | None) -> None:
        query = select(wiki_articles.c.id).where(wiki_articles.c.slug == slug)
        if own_id is not None:
            query = query.where(wiki_articles.c.id != own_id)
        if await conn.scalar(query) is not None:
            raise _duplicate(slug)

    async def _check_links(self, conn: AsyncConnection, values: dict[str, Any]) -> None:
        """A linked product / SKU must exist (404 PRODUCT_NOT_FOUND / SKU_NOT_FOUND)."""
        for field, table, code, label in (
            ("product_id", products, "PRODUCT_NOT_FOUND", "Product"),
            ("sku_id", skus, "SKU_NOT_FOUND", "SKU"),
        ):
            ref = values.get(field)
            if ref and await conn.scalar(select(table.c.id).where(table.c.id == ref)) is None:
                raise NotFound(f"{label} not found", code=code)

    async def _write(self, conn: AsyncConnection, statement: Any) -> None:
        """Run an insert/update; a slug race lost at the unique index is still a 409."""
        try:
            await conn.execute(statement)
        except IntegrityError:
            raise _duplicate("") from None


def _duplicate(slug: str) -> Conflict:
    detail = f" '{slug}'" if slug else ""
    return Conflict(f"An article with this slug{detail} already exists", code="DUPLICATE_SLUG")
