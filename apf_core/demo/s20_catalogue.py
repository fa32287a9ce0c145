"""Demo catalogue: colour presets, products and SKUs with stock, a kit, and an open order."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from ..services.catalogue import ProductService
from ..services.colors import ColorService
from ..services.inventory import InventoryService
from ..services.kits import KitService
from ..services.orders import OrderService
from ..services.skus import SkuService
from ..storage.tables.spine import print_files

if TYPE_CHECKING:
    from ..farm import Farm

COLORS = [
    ("Black", "#000000", "PLA"),
    ("White", "#FFFFFF", "PLA"),
    ("Red", "#CC0000", "PLA"),
    ("Blue", "#0044CC", "PLA"),
    ("Orange", "#FF6600", "PETG"),
]


async def seed(farm: Farm) -> None:
    async with farm.db.read() as conn:
        files = {
            r.name: r.id for r in await conn.execute(select(print_files.c.name, print_files.c.id))
        }
    for name, hex_code, filament in COLORS:
        await ColorService(farm).create(
            {"color_name": name, "hex_code": hex_code, "filament_type": filament}
        )
    await _seed_products(farm, files)
    if "benchy.gcode" in files and "cable-clip.gcode" in files:
        await _seed_kit(farm, files)
    await _seed_order(farm)


async def _seed_products(farm: Farm, files: dict[str, str]) -> None:
    """Two products, three SKUs, with ready stock for two of them."""
    products, skus, inventory = ProductService(farm), SkuService(farm), InventoryService(farm)
    stand = await products.create(
        {
            "name": "Phone Stand",
            "category": "Desk",
            "description": "Adjustable phone stand",
            "print_file_id": files.get("phone-stand.gcode"),
        }
    )
    clip = await products.create(
        {
            "name": "Cable Clip",
            "category": "Desk",
            "requires_assembly": True,
            "print_file_id": files.get("cable-clip.gcode"),
        }
    )
    stock = {}
    for product, code, color, hex_code, filament, units in (
        (stand, "PS-BLK", "Black", "#000000", "PLA", 12),
        (stand, "PS-WHT", "White", "#FFFFFF", "PLA", 2),
        (clip, "CC-ORG", "Orange", "#FF6600", "PETG", 0),
    ):
        sku = await skus.create(
            product["id"],
            {
                "sku": code,
                "color": color,
                "hex_code": hex_code,
                "filament_type": filament,
                "low_stock_threshold": 3,
            },
        )
        stock[code] = sku["id"]
        if units:
            fg = await inventory.by_sku(sku["id"])
            await inventory.adjust(fg["id"], units, "inventory_count", "demo stock")


async def _seed_kit(farm: Farm, files: dict[str, str]) -> None:
    await KitService(farm).create(
        {
            "name": "Desk Organizer Kit",
            "category": "Desk",
            "variants": [
                {"sku": "DOK-RED", "color": "Red", "filament_type": "PLA"},
                {"sku": "DOK-BLU", "color": "Blue", "filament_type": "PLA"},
            ],
            "parts": [
                {"name": "Tray", "print_file_id": files["benchy.gcode"], "quantity_per_kit": 2},
                {
                    "name": "Clip",
                    "print_file_id": files["cable-clip.gcode"],
                    "fixed_color": "Black",
                },
            ],
        }
    )


async def _seed_order(farm: Farm) -> None:
    await OrderService(farm).create(
        {
            "customer_name": "Demo Customer",
            "order_number": "DEMO-1001",
            "platform": "etsy",
            "customer_email": "customer@example.com",
            "shipping_city": "Springfield",
            "shipping_cost": 499,
            "items": [
                {"sku": "PS-BLK", "product_name": "Phone Stand", "quantity": 2, "unit_price": 1299},
                {
                    "sku": "DOK-RED",
                    "product_name": "Desk Organizer Kit",
                    "quantity": 1,
                    "unit_price": 3499,
                },
            ],
        }
    )
