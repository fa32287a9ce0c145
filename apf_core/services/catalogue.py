"""Products and their assembly components (reference 3.5).

Kit products are built by :mod:`apf_core.services.kits`; their internal part
products (``kind = "kit_part"``) never show up in product lists.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import Conflict, NotFound
from ..storage.tables.catalogue import product_components, product_images, products, skus
from ..storage.tables.spine import print_files
from ..storage.tables.wiki import wiki_articles
from ..timeutil import new_id, utcnow
from .common import fetch_one, fetch_page, project
from .conflicts import unique_conflicts
from .row_schema import nullable, row_schema

if TYPE_CHECKING:
    from ..farm import Farm

Strings = list[str]
Rows = list[dict[str, Any]]  # (class methods named `list` shadow the builtin)

PRODUCT_FIELDS = (
    "id",
    "name",
    "description",
    "category",
    "requires_assembly",
    "requires_post_processing",
    "wiki_id",
    "print_file_id",
    "is_kit",
    "image_url",
    "images",
    "is_active",
    "created_at",
    "updated_at",
)
EDITABLE = (
    "name",
    "description",
    "category",
    "requires_assembly",
    "requires_post_processing",
    "wiki_id",
    "print_file_id",
    "is_active",
)
COMPONENT_FIELDS = ("id", "component_name", "component_type", "quantity_required", "notes")
IMAGE_FIELDS = ("id", "sort_order", "content_type", "size_bytes")

#: an image's ``url`` and the product's ``image_url`` are added by the API layer (api/links.py)
IMAGE_SCHEMA = row_schema(product_images, (*IMAGE_FIELDS, "url"), {"url": str})
PRODUCT_SCHEMA = row_schema(
    products,
    PRODUCT_FIELDS,
    {
        "is_kit": bool,
        "image_url": nullable(str),
        "images": [row_schema(product_images, ("id", "sort_order", "url"), {"url": str})],
    },
)
COMPONENT_SCHEMA = row_schema(product_components, COMPONENT_FIELDS)
ALL_COMPONENTS_SCHEMA = row_schema(
    product_components, (*COMPONENT_FIELDS, "product_id", "product_name"), {"product_name": str}
)


def image_view(row: dict[str, Any]) -> dict[str, Any]:
    """An image's metadata; its ``url`` is added by the API layer (see api/links.py)."""
    return {name: row[name] for name in IMAGE_FIELDS}


async def images_of(conn: AsyncConnection, product_ids: list[str]) -> dict[str, Rows]:
    out: dict[str, Rows] = {pid: [] for pid in product_ids}
    if not product_ids:
        return out
    rows = await conn.execute(
        select(product_images)
        .where(product_images.c.product_id.in_(product_ids))
        .order_by(product_images.c.sort_order, product_images.c.created_at, product_images.c.id)
    )
    for row in rows.mappings():
        out[row["product_id"]].append(image_view(dict(row)))
    return out


async def product_views(conn: AsyncConnection, rows: Rows) -> Rows:
    """PRODUCT projections with the gallery's image ids in order. ``image_url`` and each
    image's ``url`` are filled in by the API layer, which alone knows the URLs."""
    images = await images_of(conn, [r["id"] for r in rows])
    views = []
    for row in rows:
        gallery = [{k: i[k] for k in ("id", "sort_order")} for i in images[row["id"]]]
        data = {
            **row,
            "images": gallery,
            "is_kit": row["kind"] == "kit",
        }
        views.append(project(data, PRODUCT_FIELDS))
    return views


async def check_name_free(
    conn: AsyncConnection, name: str, *, exclude_id: str | None = None
) -> None:
    # compared case-insensitively in Python: SQLite's lower() folds ASCII only, so
    # "Ünï" and "ünï" would clash on PostgreSQL but not on SQLite
    query = select(products.c.name).where(func.length(products.c.name) == len(name))
    if exclude_id:
        query = query.where(products.c.id != exclude_id)
    wanted = name.lower()
    if any(str(row[0]).lower() == wanted for row in await conn.execute(query)):
        raise Conflict(f"A product named '{name}' already exists", code="DUPLICATE_NAME")


async def check_print_file(conn: AsyncConnection, file_id: str | None) -> None:
    if file_id is None:
        return
    found = await conn.scalar(select(print_files.c.id).where(print_files.c.id == file_id))
    if found is None:
        raise NotFound(f"Print file {file_id} not found", code="PRINT_FILE_NOT_FOUND")


async def check_wiki(conn: AsyncConnection, wiki_id: str | None) -> None:
    if wiki_id is None:
        return
    found = await conn.scalar(select(wiki_articles.c.id).where(wiki_articles.c.id == wiki_id))
    if found is None:
        raise NotFound(f"Wiki article {wiki_id} not found", code="ARTICLE_NOT_FOUND")


async def product_row(
    conn: AsyncConnection, product_id: str, *, visible_only: bool = True, for_update: bool = False
) -> dict[str, Any]:
    row = await fetch_one(
        conn, products, product_id, code="PRODUCT_NOT_FOUND", label="Product", for_update=for_update
    )
    if visible_only and row["kind"] == "kit_part":
        raise NotFound("Product not found", code="PRODUCT_NOT_FOUND")
    return row


class ProductService:
    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self.db = farm.db

    async def list(
        self,
        *,
        category: str | None,
        is_active: bool | None,
        search: str | None,
        limit: int,
        offset: int,
    ) -> Rows:
        query = select(products).where(products.c.kind != "kit_part")
        if category is not None:
            query = query.where(products.c.category == category)
        if is_active is not None:
            query = query.where(products.c.is_active.is_(is_active))
        if search:
            # a literal substring (% and _ are not wildcards), any case; SQLite's lower()
            # folds ASCII only, so the term as typed also matches non-ASCII text exactly
            term = search.lower()
            description = func.coalesce(products.c.description, "")
            query = query.where(
                or_(
                    func.lower(products.c.name).contains(term, autoescape=True),
                    func.lower(description).contains(term, autoescape=True),
                    products.c.name.contains(search, autoescape=True),
                    description.contains(search, autoescape=True),
                )
            )
        query = query.order_by(products.c.name, products.c.id)
        async with self.db.read() as conn:
            return await product_views(conn, await fetch_page(conn, query, limit, offset))

    async def categories(self) -> Strings:
        query = (
            select(products.c.category)
            .distinct()
            .where(
                products.c.category.is_not(None),
                products.c.category != "",
                products.c.kind != "kit_part",
            )
            .order_by(products.c.category)
        )
        async with self.db.read() as conn:
            return [str(r[0]) for r in await conn.execute(query)]

    async def get(self, product_id: str) -> dict[str, Any]:
        from .kit_view import kit_view
        from .skus import sku_views

        async with self.db.read() as conn:
            row = await product_row(conn, product_id)
            view = (await product_views(conn, [row]))[0]
            sku_rows = await _sku_rows(conn, product_id)
            view["skus"] = await sku_views(conn, sku_rows)
            view["components"] = await self._components(conn, product_id)
            view["kit"] = await kit_view(conn, row) if row["kind"] == "kit" else None
        return view

    @unique_conflicts
    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        async with self.db.begin() as conn:
            await check_name_free(conn, body["name"])
            await check_print_file(conn, body.get("print_file_id"))
            await check_wiki(conn, body.get("wiki_id"))
            now = utcnow()
            row = {
                "id": new_id(),
                "kind": "simple",
                "requires_assembly": False,
                "requires_post_processing": False,
                "is_active": True,
                **{k: v for k, v in body.items() if k in EDITABLE},
                "created_at": now,
                "updated_at": now,
            }
            await conn.execute(insert(products).values(**row))
            view = (await product_views(conn, [row]))[0]
            await self.farm.events.emit(conn, "product.created", view)
        return view

    @unique_conflicts
    async def update(self, product_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        async with self.db.begin() as conn:
            await product_row(conn, product_id, for_update=True)
            if "name" in changes:
                await check_name_free(conn, changes["name"], exclude_id=product_id)
            await check_print_file(conn, changes.get("print_file_id"))
            await check_wiki(conn, changes.get("wiki_id"))
            values = {k: v for k, v in changes.items() if k in EDITABLE}
            if values:
                await conn.execute(
                    update(products)
                    .where(products.c.id == product_id)
                    .values(**values, updated_at=utcnow())
                )
            row = await product_row(conn, product_id)
            return (await product_views(conn, [row]))[0]

    # --- components (assembly aids such as screws and labels, not the BOM) ----------
    async def components(self, product_id: str) -> Rows:
        async with self.db.read() as conn:
            await product_row(conn, product_id)
            return await self._components(conn, product_id)

    async def all_components(self) -> Rows:
        query = (
            select(product_components, products.c.name.label("product_name"))
            .select_from(product_components.join(products))
            .order_by(products.c.name, product_components.c.created_at, product_components.c.id)
        )
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).mappings()
            return [
                project(dict(r), (*COMPONENT_FIELDS, "product_id", "product_name")) for r in rows
            ]

    async def add_components(self, product_id: str, items: Rows, *, replace: bool) -> Rows:
        async with self.db.begin() as conn:
            await product_row(conn, product_id, for_update=True)
            if replace:
                await conn.execute(
                    delete(product_components).where(product_components.c.product_id == product_id)
                )
            await insert_components(conn, product_id, items)
            return await self._components(conn, product_id)

    async def delete_components(self, product_id: str) -> dict[str, int]:
        async with self.db.begin() as conn:
            await product_row(conn, product_id, for_update=True)
            result = await conn.execute(
                delete(product_components).where(product_components.c.product_id == product_id)
            )
        return {"deleted": int(result.rowcount or 0)}

    async def _components(self, conn: AsyncConnection, product_id: str) -> Rows:
        rows = await conn.execute(
            select(product_components)
            .where(product_components.c.product_id == product_id)
            .order_by(product_components.c.created_at, product_components.c.id)
        )
        return [project(dict(r), COMPONENT_FIELDS) for r in rows.mappings()]


async def insert_components(conn: AsyncConnection, product_id: str, items: Rows) -> None:
    now = utcnow()
    for index, item in enumerate(items):
        await conn.execute(
            insert(product_components).values(
                id=new_id(),
                product_id=product_id,
                component_name=item["component_name"],
                component_type=item.get("component_type"),
                quantity_required=item.get("quantity_required", 1),
                notes=item.get("notes"),
                created_at=now + timedelta(microseconds=index),  # keeps the given order
            )
        )


async def _sku_rows(conn: AsyncConnection, product_id: str) -> Rows:
    rows = await conn.execute(
        select(skus).where(skus.c.product_id == product_id).order_by(skus.c.sku)
    )
    return [dict(r) for r in rows.mappings()]
