"""The job projection every job event and response carries."""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from ..services.common import project
from ..services.row_schema import nullable, row_schema
from ..storage.tables.spine import jobs
from .states import JobStatus

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


#: what a job pins for its start (``POST /jobs`` ``start_options``), as stored
START_OPTIONS_SCHEMA = {
    vol.Optional("plate"): nullable(int),
    vol.Optional("use_ams"): nullable(bool),
    vol.Optional("ams_mapping"): nullable([int]),
}
#: the schema of :func:`job_view`, from the same field list and the jobs table
JOB_SCHEMA = row_schema(
    jobs,
    JOB_FIELDS,
    {
        "status": vol.In([s.value for s in JobStatus]),
        "required_printer_model": jobs.c.printer_model,
        "required_tags": nullable([str]),
        "start_options": nullable(START_OPTIONS_SCHEMA),
    },
)
#: ``GET /jobs/{id}``: the job plus its weight, printer and SKU names
JOB_DETAIL_SCHEMA = {
    **JOB_SCHEMA,
    **row_schema(jobs, ("filament_weight_grams",)),
    vol.Required("printer_name"): nullable(str),
    vol.Required("printer_model"): nullable(str),
    vol.Required("sku_name"): nullable(str),
}
