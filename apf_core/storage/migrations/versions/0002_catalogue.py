"""Catalogue and orders: products, images, components, SKUs, colours, kits/BOMs,
finished goods and their stock ledger, orders, order items, assembly tasks.

Revision ID: 0002_catalogue
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from apf_core.storage.types import UTCDateTime

revision = "0002_catalogue"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.String(36)


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("category", sa.String(100), nullable=True),
        sa.Column("requires_assembly", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column(
            "requires_post_processing", sa.Boolean, nullable=False, server_default=sa.false()
        ),
        sa.Column("wiki_id", ID, nullable=True),
        sa.Column("print_file_id", ID, nullable=True),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("kind", sa.String(20), nullable=False, server_default="simple"),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("name", name="uq_products_name"),
    )
    op.create_index("ix_products_category", "products", ["category"])
    op.create_table(
        "product_images",
        sa.Column("id", ID, primary_key=True),
        sa.Column(
            "product_id", ID, sa.ForeignKey("products.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("sort_order", sa.Integer, nullable=False),
        sa.Column("content_type", sa.String(50), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("storage_key", sa.String(300), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_product_images_product", "product_images", ["product_id", "sort_order"])
    op.create_table(
        "product_components",
        sa.Column("id", ID, primary_key=True),
        sa.Column(
            "product_id", ID, sa.ForeignKey("products.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("component_name", sa.String(200), nullable=False),
        sa.Column("component_type", sa.String(100), nullable=True),
        sa.Column("quantity_required", sa.Integer, nullable=False, server_default="1"),
        sa.Column("notes", sa.Text, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_product_components_product", "product_components", ["product_id"])
    op.create_table(
        "skus",
        sa.Column("id", ID, primary_key=True),
        sa.Column(
            "product_id", ID, sa.ForeignKey("products.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("sku", sa.String(100), nullable=False),
        sa.Column("color", sa.String(50), nullable=True),
        sa.Column("filament_type", sa.String(50), nullable=True),
        sa.Column("hex_code", sa.String(9), nullable=True),
        sa.Column("quantity", sa.Integer, nullable=False, server_default="1"),
        sa.Column("stock_level", sa.Integer, nullable=False, server_default="0"),
        sa.Column("low_stock_threshold", sa.Integer, nullable=True),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("is_composite", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("sku", name="uq_skus_sku"),
    )
    op.create_index("ix_skus_product", "skus", ["product_id"])
    op.create_table(
        "colors",
        sa.Column("id", ID, primary_key=True),
        sa.Column("color_name", sa.String(100), nullable=False),
        sa.Column("hex_code", sa.String(7), nullable=False),
        sa.Column("filament_type", sa.String(50), nullable=False),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("color_name", "filament_type", name="uq_colors_color_name"),
    )
    op.create_table(
        "kit_parts",
        sa.Column("id", ID, primary_key=True),
        sa.Column(
            "kit_product_id", ID, sa.ForeignKey("products.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "part_product_id", ID, sa.ForeignKey("products.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("print_file_id", ID, nullable=False),
        sa.Column("quantity_per_kit", sa.Integer, nullable=False, server_default="1"),
        sa.Column("fixed_color", sa.String(50), nullable=True),
        sa.Column("requires_assembly", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("components", sa.JSON, nullable=True),
        sa.Column("sort_order", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_kit_parts_kit", "kit_parts", ["kit_product_id"])
    op.create_table(
        "bom_children",
        sa.Column("id", ID, primary_key=True),
        sa.Column(
            "parent_sku_id", ID, sa.ForeignKey("skus.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("child_sku_id", ID, sa.ForeignKey("skus.id", ondelete="CASCADE"), nullable=False),
        sa.Column("quantity_required", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("parent_sku_id", "child_sku_id", name="uq_bom_children_parent_sku_id"),
    )
    op.create_index("ix_bom_children_child", "bom_children", ["child_sku_id"])
    op.create_table(
        "bom_inventory",
        sa.Column("id", ID, primary_key=True),
        sa.Column("sku_id", ID, sa.ForeignKey("skus.id", ondelete="CASCADE"), nullable=False),
        sa.Column("inventory_item_id", ID, nullable=False),
        sa.Column("quantity_required", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_bom_inventory_sku", "bom_inventory", ["sku_id"])
    op.create_table(
        "finished_goods",
        sa.Column("id", ID, primary_key=True),
        sa.Column(
            "product_sku_id", ID, sa.ForeignKey("skus.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("ready_stock", sa.Integer, nullable=False, server_default="0"),
        sa.Column("quantity_needs_assembly", sa.Integer, nullable=False, server_default="0"),
        sa.Column("low_stock_threshold", sa.Integer, nullable=True),
        sa.Column("status", sa.String(20), nullable=False, server_default="out_of_stock"),
        sa.Column("assembly_status", sa.String(20), nullable=True),
        sa.Column("image_url", sa.String(1000), nullable=True),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("unit_price", sa.Integer, nullable=True),
        sa.Column("profit_margin", sa.Integer, nullable=True),
        sa.Column("extra_cost", sa.Integer, nullable=True),
        sa.Column("print_job_id", ID, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("product_sku_id", name="uq_finished_goods_product_sku_id"),
    )
    op.create_index("ix_finished_goods_status", "finished_goods", ["status"])
    op.create_table(
        "stock_adjustments",
        sa.Column("id", ID, primary_key=True),
        sa.Column(
            "finished_good_id",
            ID,
            sa.ForeignKey("finished_goods.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("bucket", sa.String(30), nullable=False, server_default="ready_stock"),
        sa.Column("adjustment", sa.Integer, nullable=False),
        sa.Column("previous_stock", sa.Integer, nullable=False),
        sa.Column("new_stock", sa.Integer, nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("notes", sa.String(500), nullable=True),
        sa.Column("reference_type", sa.String(30), nullable=True),
        sa.Column("reference_id", ID, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index(
        "ix_stock_adjustments_fg", "stock_adjustments", ["finished_good_id", "created_at"]
    )
    op.create_table(
        "orders",
        sa.Column("id", ID, primary_key=True),
        sa.Column("order_number", sa.String(100), nullable=False),
        sa.Column("platform", sa.String(20), nullable=False, server_default="manual"),
        sa.Column("customer_name", sa.String(200), nullable=False),
        sa.Column("customer_email", sa.String(320), nullable=True),
        sa.Column("customer_phone", sa.String(50), nullable=True),
        sa.Column("order_date", UTCDateTime, nullable=False),
        sa.Column("status", sa.String(20), nullable=False, server_default="pending"),
        sa.Column("total_revenue", sa.Integer, nullable=False, server_default="0"),
        sa.Column("shipping_cost", sa.Integer, nullable=False, server_default="0"),
        sa.Column("tax_amount", sa.Integer, nullable=False, server_default="0"),
        sa.Column("discount_amount", sa.Integer, nullable=False, server_default="0"),
        sa.Column("shipping_street", sa.String(300), nullable=True),
        sa.Column("shipping_city", sa.String(100), nullable=True),
        sa.Column("shipping_state", sa.String(100), nullable=True),
        sa.Column("shipping_zip", sa.String(20), nullable=True),
        sa.Column("shipping_country", sa.String(100), nullable=True),
        sa.Column("tracking_number", sa.String(100), nullable=True),
        sa.Column("tracking_url", sa.String(1000), nullable=True),
        sa.Column("shipped_at", UTCDateTime, nullable=True),
        sa.Column("external_id", sa.String(200), nullable=True),
        sa.Column("external_data", sa.JSON, nullable=True),
        sa.Column("notes", sa.Text, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("order_number", name="uq_orders_order_number"),
    )
    op.create_index("ix_orders_order_date", "orders", ["order_date"])
    op.create_index("ix_orders_status", "orders", ["status", "order_date"])
    op.create_table(
        "order_items",
        sa.Column("id", ID, primary_key=True),
        sa.Column("order_id", ID, sa.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
        sa.Column("product_sku_id", ID, nullable=True),
        sa.Column("finished_good_id", ID, nullable=True),
        sa.Column("sku", sa.String(100), nullable=False),
        sa.Column("product_name", sa.String(200), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("unit_price", sa.Integer, nullable=False, server_default="0"),
        sa.Column("total_price", sa.Integer, nullable=False, server_default="0"),
        sa.Column("quantity_fulfilled", sa.Integer, nullable=False, server_default="0"),
        sa.Column("fulfillment_status", sa.String(20), nullable=False, server_default="pending"),
        sa.Column("notes", sa.Text, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_order_items_order", "order_items", ["order_id"])
    op.create_index("ix_order_items_sku", "order_items", ["product_sku_id"])
    op.create_table(
        "assembly_tasks",
        sa.Column("id", ID, primary_key=True),
        sa.Column("task_type", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, server_default="pending"),
        sa.Column("finished_good_id", ID, nullable=False),
        sa.Column("product_sku_id", ID, nullable=False),
        sa.Column("product_name", sa.String(200), nullable=True),
        sa.Column("sku", sa.String(100), nullable=True),
        sa.Column("quantity", sa.Integer, nullable=False, server_default="1"),
        sa.Column("assigned_to", sa.String(100), nullable=True),
        sa.Column("notes", sa.Text, nullable=True),
        sa.Column("order_id", ID, nullable=True),
        sa.Column("order_item_id", ID, nullable=True),
        sa.Column("job_id", ID, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("completed_at", UTCDateTime, nullable=True),
    )
    op.create_index("ix_assembly_tasks_order_item", "assembly_tasks", ["order_item_id"])
    op.create_index("ix_assembly_tasks_status", "assembly_tasks", ["status", "created_at"])


def downgrade() -> None:
    op.drop_table("assembly_tasks")
    op.drop_table("order_items")
    op.drop_table("orders")
    op.drop_table("stock_adjustments")
    op.drop_table("finished_goods")
    op.drop_table("bom_inventory")
    op.drop_table("bom_children")
    op.drop_table("kit_parts")
    op.drop_table("colors")
    op.drop_table("skus")
    op.drop_table("product_components")
    op.drop_table("product_images")
    op.drop_table("products")
