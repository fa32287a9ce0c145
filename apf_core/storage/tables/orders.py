"""Order tables: orders, their line items, and assembly tasks.

Money is integer cents (``total_revenue``, ``shipping_cost``, ``unit_price`` ...).
``external_data`` is stored for integrations but never returned or settable.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
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

orders = Table(
    "orders",
    metadata,
    Column("id", ID, primary_key=True),
    Column("order_number", String(100), nullable=False),
    Column("platform", String(20), nullable=False, server_default="manual"),
    Column("customer_name", String(200), nullable=False),
    Column("customer_email", String(320), nullable=True),
    Column("customer_phone", String(50), nullable=True),
    Column("order_date", UTCDateTime, nullable=False),
    Column("status", String(20), nullable=False, server_default="pending"),
    Column("total_revenue", Integer, nullable=False, server_default="0"),
    Column("shipping_cost", Integer, nullable=False, server_default="0"),
    Column("tax_amount", Integer, nullable=False, server_default="0"),
    Column("discount_amount", Integer, nullable=False, server_default="0"),
    Column("shipping_street", String(300), nullable=True),
    Column("shipping_city", String(100), nullable=True),
    Column("shipping_state", String(100), nullable=True),
    Column("shipping_zip", String(20), nullable=True),
    Column("shipping_country", String(100), nullable=True),
    Column("tracking_number", String(100), nullable=True),
    Column("tracking_url", String(1000), nullable=True),
    Column("shipped_at", UTCDateTime, nullable=True),
    Column("external_id", String(200), nullable=True),
    Column("external_data", JSON, nullable=True),
    Column("notes", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("order_number", name="uq_orders_order_number"),
)
Index("ix_orders_order_date", orders.c.order_date)
Index("ix_orders_status", orders.c.status, orders.c.order_date)

order_items = Table(
    "order_items",
    metadata,
    Column("id", ID, primary_key=True),
    Column("order_id", ID, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    Column("product_sku_id", ID, nullable=True),
    Column("finished_good_id", ID, nullable=True),
    Column("sku", String(100), nullable=False),
    Column("product_name", String(200), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price", Integer, nullable=False, server_default="0"),
    Column("total_price", Integer, nullable=False, server_default="0"),
    Column("quantity_fulfilled", Integer, nullable=False, server_default="0"),
    #: pending | partial | fulfilled
    Column("fulfillment_status", String(20), nullable=False, server_default="pending"),
    Column("notes", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_order_items_order", order_items.c.order_id)
Index("ix_order_items_sku", order_items.c.product_sku_id)

assembly_tasks = Table(
    "assembly_tasks",
    metadata,
    Column("id", ID, primary_key=True),
    #: print_assembly | kit_assembly
    Column("task_type", String(20), nullable=False),
    #: pending | in_progress | completed | cancelled
    Column("status", String(20), nullable=False, server_default="pending"),
    Column("finished_good_id", ID, nullable=False),
    Column("product_sku_id", ID, nullable=False),
    Column("product_name", String(200), nullable=True),
    Column("sku", String(100), nullable=True),
    Column("quantity", Integer, nullable=False, server_default="1"),
    Column("assigned_to", String(100), nullable=True),
    Column("notes", Text, nullable=True),
    Column("order_id", ID, nullable=True),
    Column("order_item_id", ID, nullable=True),
    Column("job_id", ID, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime, nullable=True),
)
Index("ix_assembly_tasks_status", assembly_tasks.c.status, assembly_tasks.c.created_at)
Index("ix_assembly_tasks_order_item", assembly_tasks.c.order_item_id)
