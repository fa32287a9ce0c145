"""The job projection every job event and response carries."""

from __future__ import annotations

from typing import Any

from ..services.common import project

JOB_FIELDS = (
    "id",
    "status",
    "printer_id",
    "print_file_id",
    "product_id",
    "product_sku_id",
    "product_name",
    "file_name",
    "number_of_units",
    "quantity_per_print",
    "requires_assembly",
    "color",
    "filament_type",
    "material_type",
    "required_printer_model",
    "required_tags",
    "start_options",
    "priority",
    "progress_percentage",
    "estimated_print_time_minutes",
    "actual_print_time_minutes",
    "failure_reason",
    "order_id",
    "time_submitted",
    "time_started",
    "time_completed",
    "created_at",
    "updated_at",
)


def job_view(row: dict[str, Any]) -> dict[str, Any]:
    data = dict(row)
    data["required_printer_model"] = row.get("printer_model")
    return project(data, JOB_FIELDS)
