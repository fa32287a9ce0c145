"""The response schemas of :mod:`apf_core.services.analytics`, one per report.

Decimal figures (rates, hours, percentages, grams) are rounded floats or whole numbers, so
they are documented as numbers; counts and cents are integers. Every report but the overview
carries the ``date_range`` it covers.
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from ..lifecycle.states import PrinterStatus
from ..storage.tables.materials import filament_spools
from ..storage.tables.spine import jobs
from .materials import MATERIAL_STATUSES
from .row_schema import DATE, NUMBER, TIMESTAMP, column_schema, nullable


def _ints(*names: str) -> dict[Any, Any]:
    return {vol.Required(name): int for name in names}


def _report(**parts: Any) -> dict[Any, Any]:
    """A report: its ``date_range`` and ``parts``."""
    return {
        vol.Required("date_range"): {vol.Required("from"): DATE, vol.Required("to"): DATE},
        **{vol.Required(name): schema for name, schema in parts.items()},
    }


OVERVIEW_SCHEMA = {
    vol.Required("date"): DATE,
    vol.Required("generated_at"): TIMESTAMP,
    vol.Required("printers"): _ints("total", *(s.value for s in PrinterStatus)),
    vol.Required("jobs"): _ints("queued", "active", "completed_today", "failed_today"),
    vol.Required("worklist"): _ints("pending", "in_progress", "overdue"),
    vol.Required("hubs"): _ints("total", "online"),
    vol.Required("alerts"): _ints("low_stock_skus", "low_filament_spools", "low_components"),
}
PRODUCTION_SCHEMA = _report(
    summary={
        **_ints("jobs_completed", "jobs_failed", "units_produced"),
        vol.Required("completion_rate"): NUMBER,
        vol.Required("total_print_time_hours"): NUMBER,
        # only when neither printer_id nor product_id narrows the report
        vol.Required("revenue_cents"): nullable(int),
    },
    daily=[
        {
            vol.Required("date"): DATE,
            **_ints("jobs_completed", "jobs_failed", "units_produced", "total_print_time_minutes"),
            vol.Required("revenue_cents"): nullable(int),
        }
    ],
)
PRINTERS_SCHEMA = _report(
    summary={
        **_ints("total_printers", "total_jobs", "total_failures"),
        vol.Required("average_utilization"): NUMBER,
        vol.Required("average_success_rate"): nullable(NUMBER),
        vol.Required("total_print_hours"): NUMBER,
    },
    printers=[
        {
            vol.Required("id"): str,
            vol.Required("name"): str,
            vol.Required("model"): nullable(str),
            vol.Required("status"): vol.In([s.value for s in PrinterStatus]),
            vol.Required("in_maintenance"): bool,
            vol.Required("is_active"): bool,
            **_ints("total_jobs", "completed", "failed", "cancelled", "failure_count"),
            vol.Required("success_rate"): nullable(NUMBER),
            vol.Required("total_print_hours"): NUMBER,
            vol.Required("utilization_percent"): NUMBER,
        }
    ],
)
FAILURES_SCHEMA = _report(
    summary={vol.Required("total_failures"): int, vol.Required("failure_rate"): NUMBER},
    by_type=[{vol.Required("failure_type"): str, vol.Required("count"): int}],
    by_printer=[
        {
            vol.Required("printer_id"): nullable(str),
            vol.Required("printer_name"): str,
            vol.Required("count"): int,
        }
    ],
    daily=[{vol.Required("date"): DATE, vol.Required("count"): int}],
    recent=[
        {
            vol.Required("job_id"): str,
            vol.Required("printer_id"): nullable(str),
            vol.Required("printer_name"): nullable(str),
            vol.Required("file_name"): column_schema(jobs.c.file_name),
            vol.Required("product_name"): column_schema(jobs.c.product_name),
            vol.Required("failure_reason"): column_schema(jobs.c.failure_reason),
            vol.Required("failed_at"): TIMESTAMP,
        }
    ],
)
INVENTORY_SCHEMA = _report(
    summary=_ints("low_stock_skus", "low_filament_spools", "total_material_types"),
    low_stock_items=[
        {
            vol.Required("id"): str,
            vol.Required("sku"): str,
            vol.Required("color"): nullable(str),
            vol.Required("stock_level"): int,
            vol.Required("low_stock_threshold"): int,
            vol.Required("product_name"): str,
        }
    ],
    filament_inventory=[
        {
            vol.Required("type"): str,
            vol.Required("color"): str,
            vol.Required("status"): vol.In(MATERIAL_STATUSES),
            vol.Required("remaining_grams"): column_schema(filament_spools.c.remaining_grams),
            vol.Required("low_threshold"): column_schema(filament_spools.c.low_threshold),
        }
    ],
    material_usage=[{vol.Required("material_type"): str, vol.Required("total_usage"): NUMBER}],
    usage_trend=[{vol.Required("date"): DATE, vol.Required("usage"): NUMBER}],
)
REVENUE_SCHEMA = _report(
    summary=_ints("total_revenue_cents", "order_count", "average_order_value"),
    by_platform=[
        {
            vol.Required("platform"): str,
            vol.Required("revenue_cents"): int,
            vol.Required("orders"): int,
        }
    ],
    daily=[{vol.Required("date"): DATE, vol.Required("revenue_cents"): int}],
)
