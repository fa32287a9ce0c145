"""One definition of a SKU's stock (issue 13): /inventory, its alerts and stats,
/analytics/inventory, /analytics/overview and the dashboard report the same figure and state.

The farm is built so that the old definitions disagreed: SKU stock_level (component stock)
against finished-goods ready_stock, a stored status left stale, an inactive item, and the
demo's kits (a kit its parts could assemble is not an alert)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import update

from apf_core.services.stock import status_for
from apf_core.storage.tables.catalogue import finished_goods

from .conftest import fg_of, make_product, make_sku

DASHBOARD_STOCK = (
    Path(__file__).resolve().parents[2] / "apf_core" / "dashboard" / "static" / "js" / "stock.js"
)


async def _item(api, code: str, ready: int, stock_level: int, threshold: int = 3) -> dict:
    product = await make_product(api, f"Stock {code}")
    sku = await make_sku(api, product["id"], code, color="Red", low_stock_threshold=threshold)
    fg = await fg_of(api, sku["id"])
    if ready:
        reply = await api.post(f"/inventory/{fg['id']}/adjust", json={"adjustment": ready})
        assert reply.status == 200, reply.body
    if stock_level:
        reply = await api.post(f"/skus/{sku['id']}/adjust", json={"adjustment": stock_level})
        assert reply.status == 200, reply.body
    return fg


async def _farm(api) -> dict[str, dict]:
    items = {
        # plenty ready, no component stock: in /inventory, a low item in the old analytics
        "plenty": await _item(api, "SV-PLENTY", ready=12, stock_level=0),
        # two ready, lots of component stock: low, not low in the old analytics
        "low": await _item(api, "SV-LOW", ready=2, stock_level=50),
        "out": await _item(api, "SV-OUT", ready=0, stock_level=9),
        "retired": await _item(api, "SV-RETIRED", ready=0, stock_level=0),
        "stale": await _item(api, "SV-STALE", ready=1, stock_level=0),
    }
    reply = await api.patch(f"/inventory/{items['retired']['id']}", json={"is_active": False})
    assert reply.status == 200, reply.body
    async with api.farm.db.begin() as conn:  # a stored status left behind by an older write
        await conn.execute(
            update(finished_goods)
            .where(finished_goods.c.id == items["stale"]["id"])
            .values(status="in_stock")
        )
    return items


async def _get(api, path: str, **params: Any) -> Any:
    reply = await api.get(path, params=params, key="read")
    assert reply.status == 200, reply.body
    return reply.data


def _dashboard_class(item: dict[str, Any]) -> str:
    """The class the dashboard's stock table gives a row: read from the shipped JS."""
    source = DASHBOARD_STOCK.read_text()
    mapping = re.search(r"const STATE_CLASS = \{([^}]*)\}", source)
    assert mapping, "the dashboard maps the server's status to a row class"
    classes = dict(re.findall(r'(\w+): "(\w+)"', mapping.group(1)))
    return classes.get(item["status"], "")


def test_the_dashboard_shows_the_servers_state() -> None:
    source = DASHBOARD_STOCK.read_text()
    assert 'get("/inventory")' in source
    assert "STATE_CLASS[item.status]" in source
    # no stock rule of its own: the threshold is shown, never compared
    assert not re.search(r"ready_stock\s*[<>]=?|[<>]=?\s*item\.low_stock_threshold", source)


async def test_every_view_agrees(api) -> None:
    items = await _farm(api)
    inventory = {i["id"]: i for i in await _get(api, "/inventory")}
    alerts = await _get(api, "/inventory/alerts")
    low_filter = {i["id"] for i in await _get(api, "/inventory", low_stock="true")}
    stats = await _get(api, "/inventory/stats")
    analytics = await _get(api, "/analytics/inventory")
    overview = await _get(api, "/analytics/overview")

    # the figure and the state of each planted item, in the list and in the detail
    expected = {
        "plenty": ("in_stock", 12, False, ""),
        "low": ("low_stock", 2, True, "low"),
        "out": ("out_of_stock", 0, True, "out"),
        "retired": ("out_of_stock", 0, False, "out"),
        "stale": ("low_stock", 1, True, "low"),
    }
    alert_ids = [a["id"] for a in alerts]
    for name, (status, ready, alerted, css) in expected.items():
        fg_id = items[name]["id"]
        listed = inventory[fg_id]
        detail = await _get(api, f"/inventory/{fg_id}")
        assert (listed["status"], listed["ready_stock"]) == (status, ready), name
        assert (detail["status"], detail["ready_stock"]) == (status, ready), name
        assert (fg_id in alert_ids) is alerted, name
        assert _dashboard_class(listed) == css, name

    # every item: the state is the rule applied to the figure (nothing waits for assembly)
    for item in inventory.values():
        if item["status"] != "needs_assembly":
            assert item["status"] == status_for(
                item["ready_stock"], 0, item["low_stock_threshold"]
            ), item

    # alerts: active, at or under the threshold, the same figure and state as the list
    for alert in alerts:
        listed = inventory[alert["id"]]
        assert {k: alert[k] for k in listed} == listed
        assert alert["is_active"] and alert["ready_stock"] <= alert["low_stock_threshold"]
    # the low_stock filter differs from the alerts only by kits that parts could assemble
    for fg_id in low_filter - set(alert_ids):
        assert (await _get(api, f"/inventory/{fg_id}"))["is_composite"], fg_id
    assert set(alert_ids) <= low_filter

    # analytics and the overview count the same list, with ready stock as stock_level
    assert analytics["summary"]["low_stock_skus"] == len(alerts)
    assert overview["alerts"]["low_stock_skus"] == len(alerts)
    assert [
        (i["id"], i["sku"], i["stock_level"], i["low_stock_threshold"])
        for i in analytics["low_stock_items"]
    ] == [
        (a["product_sku_id"], a["sku"], a["ready_stock"], a["low_stock_threshold"])
        for a in alerts[:20]
    ]

    # stats count the states the list shows
    active = [i for i in inventory.values() if i["is_active"]]
    for status in ("in_stock", "low_stock", "out_of_stock", "needs_assembly"):
        assert stats[status] == sum(1 for i in active if i["status"] == status), status
    assert stats["total_stock"] == sum(i["ready_stock"] for i in active)


async def test_status_filter_uses_the_same_state(api) -> None:
    items = await _farm(api)
    low = {i["id"] for i in await _get(api, "/inventory", status="low_stock")}
    assert {items["low"]["id"], items["stale"]["id"]} <= low
    in_stock = {i["id"] for i in await _get(api, "/inventory", status="in_stock")}
    assert items["stale"]["id"] not in in_stock and items["plenty"]["id"] in in_stock
