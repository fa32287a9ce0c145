"""Materials (reference 3.9): filament, components, packaging and parts.

Lists are small reference sets: not paginated, no ``meta``. ``status`` is computed
by the server; ``cost_per_unit`` and ``reorder_link`` are neither accepted nor returned.
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from aiohttp import web

from ...services.materials import (
    AVAILABILITY_SCHEMA,
    COMPONENTS,
    CONSUME_REASONS,
    CONSUME_SCHEMA,
    FILAMENT,
    PACKAGING,
    PARTS,
    MaterialKind,
    MaterialService,
    material_schema,
)
from ..framework import BOOL_STRING, Ctx, Handler, RouteTable, created, nullable, ok, text
from ._business import DELETED

#: lines one availability check may ask about (keeps the SQL IN lists small)
MAX_AVAILABILITY_ITEMS = 1000

routes = RouteTable("Materials", "Filament spools, components, packaging and printer parts.")


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise vol.Invalid("expected a number")
    return value


def number(minimum: float = 0) -> vol.All:
    return vol.All(_not_bool, vol.Any(int, float, msg="expected a number"), vol.Range(min=minimum))


#: unit counts are 32-bit integer columns (PostgreSQL ``integer``)
MAX_UNITS = 2_147_483_647


def integer(minimum: int = 0) -> vol.All:
    return vol.All(
        _not_bool, vol.Any(int, msg="expected an integer"), vol.Range(min=minimum, max=MAX_UNITS)
    )


_FILAMENT_OPTIONAL: dict[Any, Any] = {
    vol.Optional("hex_code"): nullable(text(7)),
    vol.Optional("brand"): nullable(text(100)),
    vol.Optional("diameter"): nullable(text(20)),
    vol.Optional("remaining_grams"): number(),
    vol.Optional("spool_weight_grams"): nullable(number()),
    vol.Optional("low_threshold"): nullable(number()),
    vol.Optional("location"): nullable(text(200)),
}
FILAMENT_CREATE = {
    vol.Required("type"): text(100, 1),
    vol.Required("color"): text(50, 1),
    **_FILAMENT_OPTIONAL,
}
FILAMENT_PATCH = {
    vol.Optional("type"): text(100, 1),
    vol.Optional("color"): text(50, 1),
    **_FILAMENT_OPTIONAL,
}

_UNIT_OPTIONAL: dict[Any, Any] = {
    vol.Optional("name"): nullable(text(200)),
    vol.Optional("color"): nullable(text(50)),
    vol.Optional("brand"): nullable(text(100)),
    vol.Optional("remaining_units"): integer(),
    vol.Optional("low_threshold"): nullable(integer()),
    vol.Optional("location"): nullable(text(200)),
}
_COMPONENT_EXTRA: dict[Any, Any] = {
    vol.Optional("diameter"): nullable(text(20)),
    vol.Optional("size"): nullable(text(50)),
}


def _bodies(kind: MaterialKind) -> tuple[dict[Any, Any], dict[Any, Any]]:
    if kind is FILAMENT:
        return FILAMENT_CREATE, FILAMENT_PATCH
    optional = {**_UNIT_OPTIONAL, **(_COMPONENT_EXTRA if kind is COMPONENTS else {})}
    return (
        {vol.Required("type"): text(100, 1), **optional},
        {vol.Optional("type"): text(100, 1), **optional},
    )


def _named(handler: Handler, name: str) -> Handler:
    handler.__name__ = name
    handler.__qualname__ = name
    return handler


def _handlers(kind: MaterialKind, ident: str) -> dict[str, Handler]:
    """The list, get, create, update and delete handlers of one material family."""

    async def list_items(ctx: Ctx) -> web.StreamResponse:
        q = ctx.query
        return ok(
            await MaterialService(ctx.farm, kind).list(
                low_stock=q.get("low_stock"),
                type_=q.get("material_type"),
                color=q.get("color"),
            )
        )

    async def get_item(ctx: Ctx) -> web.StreamResponse:
        return ok(await MaterialService(ctx.farm, kind).get(ctx.params["id"]))

    async def create_item(ctx: Ctx) -> web.StreamResponse:
        return created(await MaterialService(ctx.farm, kind).create(ctx.body))

    async def update_item(ctx: Ctx) -> web.StreamResponse:
        return ok(await MaterialService(ctx.farm, kind).update(ctx.params["id"], ctx.body))

    async def delete_item(ctx: Ctx) -> web.StreamResponse:
        return ok(await MaterialService(ctx.farm, kind).delete(ctx.params["id"]))

    handlers: dict[str, Handler] = {
        "list": list_items,
        "get": get_item,
        "create": create_item,
        "update": update_item,
        "delete": delete_item,
    }
    return {verb: _named(h, f"{verb}_{ident}") for verb, h in handlers.items()}


def _register(kind: MaterialKind, segment: str, plural: str) -> None:
    """GET list, GET one, POST, PATCH and DELETE for one material family."""
    base, one, label = f"/materials/{segment}", f"/materials/{segment}/{{id}}", kind.label.lower()
    create_body, patch_body = _bodies(kind)
    list_query: dict[Any, Any] = {vol.Optional("low_stock"): BOOL_STRING}
    if kind is FILAMENT:
        list_query |= {
            vol.Optional("material_type"): text(100, 1),
            vol.Optional("color"): text(50, 1),
        }
    not_found = (kind.not_found,)
    handlers = _handlers(kind, segment.replace("-", "_"))
    low_note = (
        f"Sorted by {', '.join(kind.order_by)}. `low_stock=true`: at or below `low_threshold`, "
        "or empty (`status` low_stock/out_of_stock); `false`: the rest."
    )
    schema = material_schema(kind)
    routes.get(
        base,
        scope="read",
        summary=f"List {plural} (not paginated)",
        query=list_query,
        description=low_note,
        response=[schema],
    )(handlers["list"])
    routes.get(one, scope="read", summary=f"Get one {label}", errors=not_found, response=schema)(
        handlers["get"]
    )
    routes.post(
        base, scope="write", summary=f"Add {label}", body=create_body, status=201, response=schema
    )(handlers["create"])
    routes.patch(
        one,
        scope="write",
        summary=f"Update {label}",
        body=patch_body,
        errors=not_found,
        response=schema,
        description="Partial update; `status` is recomputed.",
    )(handlers["update"])
    routes.delete(
        one, scope="write", summary=f"Delete {label}", errors=not_found, response=DELETED
    )(handlers["delete"])


_register(FILAMENT, "filament", "filament spools")
_register(COMPONENTS, "components", "components")
_register(PACKAGING, "packaging", "packaging")
_register(PARTS, "parts", "printer parts")


@routes.post(
    "/materials/components/{id}/consume",
    scope="write",
    summary="Consume component units",
    body={
        vol.Required("quantity"): integer(1),
        vol.Optional("reason", default="manual_adjustment"): vol.In(
            CONSUME_REASONS, msg=f"must be one of: {', '.join(CONSUME_REASONS)}"
        ),
        vol.Optional("notes"): nullable(text(500)),
    },
    errors=("INSUFFICIENT_QUANTITY", "COMPONENT_NOT_FOUND"),
    response=CONSUME_SCHEMA,
)
async def consume_component(ctx: Ctx) -> web.StreamResponse:
    """Atomic: refused with INSUFFICIENT_QUANTITY (nothing changes) if stock would go below zero.
    `assembly_completion` is reserved for assembly and rejected here."""
    body = ctx.body
    return ok(
        await MaterialService(ctx.farm, COMPONENTS).consume(
            ctx.params["id"],
            body["quantity"],
            body["reason"],
            body.get("notes"),
        )
    )


@routes.post(
    "/materials/components/check-availability",
    scope="read",
    summary="Check component availability (read only)",
    body={
        vol.Required("components"): vol.All(
            [
                {
                    vol.Required("component_type"): text(100, 1),
                    vol.Required("quantity_needed"): integer(1),
                }
            ],
            vol.Length(min=1, max=MAX_AVAILABILITY_ITEMS),
        ),
    },
    response=AVAILABILITY_SCHEMA,
)
async def check_component_availability(ctx: Ctx) -> web.StreamResponse:
    """Stock is summed over every component of the requested type. A pure read: scope `read`."""
    service = MaterialService(ctx.farm, COMPONENTS)
    return ok(await service.check_availability(ctx.body["components"]))
