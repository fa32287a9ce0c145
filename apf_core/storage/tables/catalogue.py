"""Catalogue tables: products, images, components, SKUs, colours, kits/BOMs, finished goods.

Money columns are integer cents. ``finished_goods`` holds one row per SKU
(``product_sku_id`` unique); every stock change is also written to
``stock_adjustments`` (the ledger).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from ..types import UTCDateTime
from . import metadata

ID = String(36)

products = Table(
    "products",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=True),
    Column("category", String(100), nullable=True),
    Column("requires_assembly", Boolean, nullable=False, server_default="0"),
    Column("requires_post_processing", Boolean, nullable=False, server_default="0"),
    Column("wiki_id", ID, nullable=True),
    #: the print file used by POST /orders/{id}/produce (else the newest file with this product_id)
    Column("print_file_id", ID, nullable=True),
    Column("is_active", Boolean, nullable=False, server_default="1"),
    #: "simple" | "kit" | "kit_part" (kit parts are internal and hidden from lists)
    Column("kind", String(20), nullable=False, server_default="simple"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("name", name="uq_products_name"),
)
Index("ix_products_category", products.c.category)

# storage_key is relative to Settings.data_dir / "images" (never returned)
product_images = Table(
    "product_images",
    metadata,
    Column("id", ID, primary_key=True),
    Column("product_id", ID, ForeignKey("products.id", ondelete="CASCADE"), nullable=False),
    Column("sort_order", Integer, nullable=False),
    Column("content_type", String(50), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("storage_key", String(300), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_product_images_product", product_images.c.product_id, product_images.c.sort_order)

product_components = Table(
    "product_components",
    metadata,
    Column("id", ID, primary_key=True),
    Column("product_id", ID, ForeignKey("products.id", ondelete="CASCADE"), nullable=False),
    Column("component_name", String(200), nullable=False),
    Column("component_type", String(100), nullable=True),
    Column("quantity_required", Integer, nullable=False, server_default="1"),
    Column("notes", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_product_components_product", product_components.c.product_id)

skus = Table(
    "skus",
    metadata,
    Column("id", ID, primary_key=True),
    Column("product_id", ID, ForeignKey("products.id", ondelete="CASCADE"), nullable=False),
    Column("sku", String(100), nullable=False),
    Column("color", String(50), nullable=True),
    Column("filament_type", String(50), nullable=True),
    Column("hex_code", String(9), nullable=True),
    #: units per print (or per kit for kit parts)
    Column("quantity", Integer, nullable=False, server_default="1"),
    #: component-level stock (POST /skus/{id}/adjust), not finished-goods stock
    Column("stock_level", Integer, nullable=False, server_default="0"),
    Column("low_stock_threshold", Integer, nullable=True),
    Column("is_active", Boolean, nullable=False, server_default="1"),
    Column("is_composite", Boolean, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("sku", name="uq_skus_sku"),
)
Index("ix_skus_product", skus.c.product_id)

colors = Table(
    "colors",
    metadata,
    Column("id", ID, primary_key=True),
    Column("color_name", String(100), nullable=False),
    Column("hex_code", String(7), nullable=False),
    Column("filament_type", String(50), nullable=False),
    Column("is_active", Boolean, nullable=False, server_default="1"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("color_name", "filament_type", name="uq_colors_color_name"),
)

# A kit's printed parts: each part is an internal product ("kit_part") with one SKU per colour.
kit_parts = Table(
    "kit_parts",
    metadata,
    Column("id", ID, primary_key=True),
    Column("kit_product_id", ID, ForeignKey("products.id", ondelete="CASCADE"), nullable=False),
    Column("part_product_id", ID, ForeignKey("products.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("print_file_id", ID, nullable=False),
    Column("quantity_per_kit", Integer, nullable=False, server_default="1"),
    Column("fixed_color", String(50), nullable=True),
    Column("requires_assembly", Boolean, nullable=False, server_default="0"),
    Column("components", JSON, nullable=True),
    Column("sort_order", Integer, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_kit_parts_kit", kit_parts.c.kit_product_id)

# Bill of materials: a composite SKU's child SKUs (one level only) ...
bom_children = Table(
    "bom_children",
    metadata,
    Column("id", ID, primary_key=True),
    Column("parent_sku_id", ID, ForeignKey("skus.id", ondelete="CASCADE"), nullable=False),
    Column("child_sku_id", ID, ForeignKey("skus.id", ondelete="CASCADE"), nullable=False),
    Column("quantity_required", Integer, nullable=False, server_default="1"),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("parent_sku_id", "child_sku_id", name="uq_bom_children_parent_sku_id"),
)
Index("ix_bom_children_child", bom_children.c.child_sku_id)

# ... and the material inventory items it needs (kit "bundle extras").
bom_inventory = Table(
    "bom_inventory",
    metadata,
    Column("id", ID, primary_key=True),
    Column("sku_id", ID, ForeignKey("skus.id", ondelete="CASCADE"), nullable=False),
    Column("inventory_item_id", ID, nullable=False),
    Column("quantity_required", Integer, nullable=False, server_default="1"),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_bom_inventory_sku", bom_inventory.c.sku_id)

# Finished goods: sellable stock per SKU. unit_price/profit_margin/extra_cost are cents/percent
# and never exposed; print_job_id and assembly_status are internal too.
finished_goods = Table(
    "finished_goods",
    metadata,
    Column("id", ID, primary_key=True),
    Column("product_sku_id", ID, ForeignKey("skus.id", ondelete="CASCADE"), nullable=False),
    Column("ready_stock", Integer, nullable=False, server_default="0"),
    Column("quantity_needs_assembly", Integer, nullable=False, server_default="0"),
    Column("low_stock_threshold", Integer, nullable=True),
    Column("status", String(20), nullable=False, server_default="out_of_stock"),
    Column("assembly_status", String(20), nullable=True),
    Column("image_url", String(1000), nullable=True),
    Column("is_active", Boolean, nullable=False, server_default="1"),
    Column("unit_price", Integer, nullable=True),
    Column("profit_margin", Integer, nullable=True),
    Column("extra_cost", Integer, nullable=True),
    Column("print_job_id", ID, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("product_sku_id", name="uq_finished_goods_product_sku_id"),
)
Index("ix_finished_goods_status", finished_goods.c.status)

stock_adjustments = Table(
    "stock_adjustments",
    metadata,
    Column("id", ID, primary_key=True),
    Column(
        "finished_good_id", ID, ForeignKey("finished_goods.id", ondelete="CASCADE"), nullable=False
    ),
    #: "ready_stock" or "quantity_needs_assembly"
    Column("bucket", String(30), nullable=False, server_default="ready_stock"),
    Column("adjustment", Integer, nullable=False),
    Column("previous_stock", Integer, nullable=False),
    Column("new_stock", Integer, nullable=False),
    Column("reason", String(40), nullable=False),
    Column("notes", String(500), nullable=True),
    Column("reference_type", String(30), nullable=True),
    Column("reference_id", ID, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)
Index(
    "ix_stock_adjustments_fg", stock_adjustments.c.finished_good_id, stock_adjustments.c.created_at
)
