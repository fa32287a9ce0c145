"""Kits: a kit product, its printed parts (internal ``kit_part`` products), one
composite SKU per variant and one child SKU per (part, colour), wired by BOMs.

Create and replace are single transactions. Replace keeps every SKU whose code
survives (so its finished-goods stock survives) and refuses to drop a SKU that an
open order still needs or that another kit's BOM uses.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import BadRequest, Conflict
from ..storage.tables.catalogue import bom_children, kit_parts, products, skus
from ..storage.tables.orders import order_items, orders
from ..timeutil import new_id, utcnow
from .catalogue import ProductService, check_name_free, check_print_file, product_row
from .conflicts import field_error, unique_conflicts
from .order_views import CLOSED
from .skus import insert_sku, write_bom

if TYPE_CHECKING:
    from ..farm import Farm

Rows = list[dict[str, Any]]  # (class methods named `list` shadow the builtin)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "-", text.upper()).strip("-") or "X"


def child_code(kit_name: str, part_name: str, color: str | None) -> str:
    return f"{_slug(kit_name)}-{_slug(part_name)}-{_slug(color or 'NONE')}"[:100]


def _check_body(body: dict[str, Any]) -> None:
    codes = [v["sku"] for v in body["variants"]]
    if len(set(codes)) != len(codes):
        raise BadRequest(
            "Variant SKU codes must be unique",
            code="VALIDATION_ERROR",
            extra=field_error("variants", "SKU codes must be unique"),
        )
    names = [p["name"].lower() for p in body["parts"]]
    if len(set(names)) != len(names):
        raise BadRequest(
            "Part names must be unique",
            code="VALIDATION_ERROR",
            extra=field_error("parts", "names must be unique"),
        )
    for extra in body.get("bundle_extras", []):
        if extra.get("sku") is not None and extra["sku"] not in codes:
            raise BadRequest(
                f"Bundle extra refers to unknown variant SKU {extra['sku']}",
                code="VALIDATION_ERROR",
                extra=field_error("bundle_extras", "unknown variant SKU"),
            )


class KitService:
    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self.db = farm.db

    @unique_conflicts
    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        _check_body(body)
        async with self.db.begin() as conn:
            await check_name_free(conn, body["name"])
            now = utcnow()
            kit = {
                "id": new_id(),
                "name": body["name"],
                "description": body.get("description"),
                "category": body.get("category"),
                "requires_assembly": False,
                "requires_post_processing": False,
                "is_active": True,
                "kind": "kit",
                "created_at": now,
                "updated_at": now,
            }
            await conn.execute(insert(products).values(**kit))
            await self._apply(conn, kit, body)
            await self.farm.events.emit(
                conn, "product.created", {"id": kit["id"], "name": kit["name"]}
            )
        return await ProductService(self.farm).get(kit["id"])

    @unique_conflicts
    async def replace(self, product_id: str, body: dict[str, Any]) -> dict[str, Any]:
        _check_body(body)
        async with self.db.begin() as conn:
            kit = await product_row(conn, product_id, for_update=True)
            if kit["kind"] != "kit":
                raise BadRequest("Product is not a kit", code="NOT_A_KIT")
            await check_name_free(conn, body["name"], exclude_id=product_id)
            values: dict[str, Any] = {
                k: body[k] for k in ("name", "description", "category") if k in body
            }
            await conn.execute(
                update(products)
                .where(products.c.id == product_id)
                .values(**values, updated_at=utcnow())
            )
            await self._apply(conn, {**kit, **values}, body)
        return await ProductService(self.farm).get(product_id)

    async def _apply(
        self, conn: AsyncConnection, kit: dict[str, Any], body: dict[str, Any]
    ) -> None:
        await _KitWriter(conn, kit, body).run()


class _KitWriter:
    """One create or replace of a kit's part products, variant SKUs, child SKUs, BOMs and
    part list, reusing what survives: parts by name, SKUs by code or (part, colour)."""

    def __init__(self, conn: AsyncConnection, kit: dict[str, Any], body: dict[str, Any]) -> None:
        self.conn, self.kit, self.body = conn, kit, body
        self.now = utcnow()
        self.part_product_ids: list[str] = []  # per body part
        self.kept_part_ids: list[str] = []  # per body part: the kit_parts id kept, or ""
        self.dropped_part_products: list[str] = []
        self.kit_sku_ids: dict[str, str] = {}  # variant code -> sku id
        self.old_kit_skus: dict[str, dict[str, Any]] = {}  # variant SKUs no longer wanted
        self.old_children: dict[tuple[str, str], dict[str, Any]] = {}  # child SKUs not wanted
        self.wiring: dict[str, Rows] = {}  # variant code -> BOM children

    async def run(self) -> None:
        await self._part_products()
        await self._variant_skus()
        await self._child_skus()
        dropped_ids = await self._check_droppable()
        await self._rewire(dropped_ids)
        await self._write_part_list()

    async def _part_products(self) -> None:
        """1. part products (reused by part name)"""
        old_parts = {
            r["name"].lower(): dict(r)
            for r in (
                await self.conn.execute(
                    select(kit_parts).where(kit_parts.c.kit_product_id == self.kit["id"])
                )
            ).mappings()
        }
        for spec in self.body["parts"]:
            await check_print_file(self.conn, spec["print_file_id"])
            previous = old_parts.pop(spec["name"].lower(), None)
            part_id = await self._part_product(spec, previous)
            self.part_product_ids.append(part_id)
            self.kept_part_ids.append(previous["id"] if previous is not None else "")
        self.dropped_part_products = [p["part_product_id"] for p in old_parts.values()]

    async def _part_product(self, spec: dict[str, Any], previous: dict[str, Any] | None) -> str:
        name = f"{self.kit['name']} / {spec['name']}"[:200]
        values = {
            "name": name,
            "print_file_id": spec["print_file_id"],
            "requires_assembly": spec.get("requires_assembly", False),
            "updated_at": self.now,
        }
        if previous is not None:
            product_id: str = previous["part_product_id"]
            await check_name_free(self.conn, name, exclude_id=product_id)
            await self.conn.execute(
                update(products).where(products.c.id == product_id).values(**values)
            )
            return product_id
        await check_name_free(self.conn, name)
        part_id = new_id()
        await self.conn.execute(
            insert(products).values(
                id=part_id,
                kind="kit_part",
                is_active=True,
                requires_post_processing=False,
                created_at=self.now,
                **values,
            )
        )
        return part_id

    async def _variant_skus(self) -> None:
        """2. variant (composite) SKUs, reused by code"""
        self.old_kit_skus = await _skus_of(self.conn, [self.kit["id"]])
        for variant in self.body["variants"]:
            code = variant["sku"]
            values = {
                "color": variant["color"],
                "hex_code": (variant.get("hex_code") or None),
                "filament_type": variant.get("filament_type"),
            }
            if values["hex_code"]:
                values["hex_code"] = values["hex_code"].upper()
            if code in self.old_kit_skus:
                row = self.old_kit_skus.pop(code)
                await self.conn.execute(
                    update(skus)
                    .where(skus.c.id == row["id"])
                    .values(**values, is_active=True, updated_at=self.now)
                )
            else:
                threshold = variant.get("low_stock_threshold", 5)
                row = await insert_sku(
                    self.conn,
                    self.kit["id"],
                    {"sku": code, **values, "low_stock_threshold": threshold},
                )
            self.kit_sku_ids[code] = row["id"]

    async def _child_skus(self) -> None:
        """3. child SKUs: one per (part, colour), reused by (part product, colour)"""
        candidates = self.part_product_ids + self.dropped_part_products
        self.old_children = {
            (row["product_id"], (row["color"] or "").lower()): row
            for row in (await _skus_of(self.conn, candidates)).values()
        }
        wanted: dict[tuple[str, str], str] = {}  # (part product, colour) -> sku id
        self.wiring = {code: [] for code in self.kit_sku_ids}
        for index, spec in enumerate(self.body["parts"]):
            quantity = spec.get("quantity_per_kit", 1)
            for variant in self.body["variants"]:
                color = spec.get("fixed_color") or variant["color"]
                key = (self.part_product_ids[index], color.lower())
                if key not in wanted:
                    wanted[key] = await self._child_sku(key, spec, variant, color)
                self.wiring[variant["sku"]].append(
                    {"child_sku_id": wanted[key], "quantity_required": quantity}
                )

    async def _child_sku(
        self,
        key: tuple[str, str],
        spec: dict[str, Any],
        variant: dict[str, Any],
        color: str,
    ) -> str:
        quantity = spec.get("quantity_per_kit", 1)
        if key in self.old_children:
            row = self.old_children.pop(key)
            await self.conn.execute(
                update(skus)
                .where(skus.c.id == row["id"])
                .values(quantity=quantity, is_active=True, updated_at=self.now)
            )
            return str(row["id"])
        row = await insert_sku(
            self.conn,
            key[0],
            {
                "sku": child_code(self.kit["name"], spec["name"], color),
                "color": color,
                "filament_type": spec.get("filament_type") or variant.get("filament_type"),
                "quantity": quantity,
                "low_stock_threshold": None,
            },
        )
        return str(row["id"])

    def _parent_ids(self) -> list[str]:
        """The kit's variant SKUs, wanted and dropped: whose BOMs this write owns."""
        return list(self.kit_sku_ids.values()) + [r["id"] for r in self.old_kit_skus.values()]

    async def _check_droppable(self) -> list[str]:
        """4. what disappears must be free to go; returns the SKU ids to delete"""
        dropped = list(self.old_kit_skus.values()) + list(self.old_children.values())
        dropped_ids = [r["id"] for r in dropped]
        await _check_droppable(
            self.conn,
            dropped_ids,
            [r["id"] for r in self.old_children.values()],
            self._parent_ids(),
        )
        return dropped_ids

    async def _rewire(self, dropped_ids: list[str]) -> None:
        """5. rewire BOMs (variants first drop their old wiring)"""
        await self.conn.execute(
            delete(bom_children).where(bom_children.c.parent_sku_id.in_(self._parent_ids()))
        )
        for code, sku_id in self.kit_sku_ids.items():
            extras = [e for e in self.body.get("bundle_extras", []) if e.get("sku") in (None, code)]
            sku = (
                (await self.conn.execute(select(skus).where(skus.c.id == sku_id))).mappings().one()
            )
            await write_bom(self.conn, dict(sku), self.wiring[code], extras)
        if dropped_ids:
            await self.conn.execute(delete(skus).where(skus.c.id.in_(dropped_ids)))

    async def _write_part_list(self) -> None:
        """6. the part list itself"""
        kit_id = self.kit["id"]
        await self.conn.execute(delete(kit_parts).where(kit_parts.c.kit_product_id == kit_id))
        if self.dropped_part_products:
            await self.conn.execute(
                delete(products).where(products.c.id.in_(self.dropped_part_products))
            )
        for index, spec in enumerate(self.body["parts"]):
            await self.conn.execute(
                insert(kit_parts).values(
                    id=self.kept_part_ids[index] or new_id(),
                    kit_product_id=kit_id,
                    part_product_id=self.part_product_ids[index],
                    name=spec["name"],
                    print_file_id=spec["print_file_id"],
                    quantity_per_kit=spec.get("quantity_per_kit", 1),
                    fixed_color=spec.get("fixed_color"),
                    requires_assembly=spec.get("requires_assembly", False),
                    components=spec.get("components") or [],
                    sort_order=index,
                    created_at=self.now,
                )
            )


async def _skus_of(conn: AsyncConnection, product_ids: list[str]) -> dict[str, dict[str, Any]]:
    if not product_ids:
        return {}
    rows = await conn.execute(select(skus).where(skus.c.product_id.in_(product_ids)))
    return {r["sku"]: dict(r) for r in rows.mappings()}


async def _check_droppable(
    conn: AsyncConnection,
    dropped_ids: list[str],
    dropped_child_ids: list[str],
    own_parent_ids: list[str],
) -> None:
    if not dropped_ids:
        return
    busy = (
        await conn.execute(
            select(order_items.c.sku, orders.c.order_number)
            .select_from(order_items.join(orders))
            .where(
                order_items.c.product_sku_id.in_(dropped_ids),
                orders.c.status.not_in(CLOSED),
                order_items.c.quantity_fulfilled < order_items.c.quantity,
            )
            .limit(1)
        )
    ).first()
    if busy is not None:
        raise Conflict(
            f"SKU {busy.sku} is still needed by open order {busy.order_number}",
            code="SKU_IN_USE_BY_ORDER",
        )
    if dropped_child_ids:
        external = (
            await conn.execute(
                select(skus.c.sku)
                .select_from(bom_children.join(skus, skus.c.id == bom_children.c.child_sku_id))
                .where(
                    bom_children.c.child_sku_id.in_(dropped_child_ids),
                    bom_children.c.parent_sku_id.not_in(own_parent_ids),
                )
                .limit(1)
            )
        ).first()
        if external is not None:
            raise Conflict(
                f"Part SKU {external.sku} is used by another kit's BOM",
                code="PART_IN_EXTERNAL_BOM",
            )
