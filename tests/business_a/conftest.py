"""Fixtures for the catalogue / inventory / orders / assembly tests."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from apf_core.storage.tables.spine import print_files
from tests.api.conftest import Api, api, empty_api, farm_options  # noqa: F401  (fixtures)

pytestmark = pytest.mark.asyncio


async def file_ids(client: Api) -> list[str]:
    """Ids of the demo farm's print files (seeded by s10_farm)."""
    async with client.farm.db.read() as conn:
        return [
            r.id for r in await conn.execute(select(print_files.c.id).order_by(print_files.c.name))
        ]


async def make_product(client: Api, name: str = "Widget", **fields: Any) -> dict[str, Any]:
    reply = await client.post("/products", json={"name": name, **fields})
    assert reply.status == 201, reply.body
    return dict(reply.data)


async def make_sku(client: Api, product_id: str, sku: str, **fields: Any) -> dict[str, Any]:
    reply = await client.post("/skus", json={"product_id": product_id, "sku": sku, **fields})
    assert reply.status == 201, reply.body
    return dict(reply.data)


async def fg_of(client: Api, sku_id: str) -> dict[str, Any]:
    reply = await client.get(f"/inventory/by-sku/{sku_id}")
    assert reply.status == 200, reply.body
    return dict(reply.data)


async def make_kit(client: Api, name: str = "Desk Kit", **overrides: Any) -> dict[str, Any]:
    files = await file_ids(client)
    body = {
        "name": name,
        "variants": [
            {"sku": f"{name[:4].upper()}-RED", "color": "Red"},
            {"sku": f"{name[:4].upper()}-BLU", "color": "Blue"},
        ],
        "parts": [
            {"name": "Tray", "print_file_id": files[0], "quantity_per_kit": 2},
            {"name": "Lid", "print_file_id": files[1], "fixed_color": "Black"},
        ],
        **overrides,
    }
    reply = await client.post("/products/kits", json=body)
    assert reply.status == 201, reply.body
    return dict(reply.data)
