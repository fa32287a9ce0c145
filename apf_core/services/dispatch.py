"""Dispatch settings, manual passes and job eligibility (the dispatcher lives in
:mod:`apf_core.dispatch`; this service is what routes call)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import voluptuous as vol
from sqlalchemy import select

from ..dispatch import Dispatcher
from ..errors import Conflict, ServiceUnavailable
from ..storage.tables.dispatch import dispatch_attempts
from ..storage.tables.spine import jobs
from ..timeutil import iso
from .common import fetch_one
from .row_schema import NUMBER, row_schema

if TYPE_CHECKING:
    from ..farm import Farm

_ATTEMPT_FIELDS = ("job_id", "printer_id", "outcome", "error_code", "message")
_OUTCOME = {"outcome": vol.In(("started", "failed", "skipped"))}
#: ``Attempt.as_dict()``
ATTEMPT_SCHEMA = row_schema(dispatch_attempts, _ATTEMPT_FIELDS, _OUTCOME)
#: a stored attempt (``GET /dispatch/history``)
ATTEMPT_ROW_SCHEMA = row_schema(
    dispatch_attempts, [str(c.name) for c in dispatch_attempts.columns], _OUTCOME
)
SETTINGS_SCHEMA = {vol.Required("enabled"): bool, vol.Required("interval_seconds"): NUMBER}
PASS_SCHEMA = {vol.Required("attempts"): [ATTEMPT_SCHEMA], vol.Required("started"): int}
#: ``Dispatcher.explain``
ELIGIBILITY_SCHEMA = {
    vol.Required("job_id"): str,
    vol.Required("auto_dispatch_enabled"): bool,
    vol.Required("eligible_printer_count"): int,
    vol.Required("printers"): [
        {
            vol.Required("printer_id"): str,
            vol.Required("name"): str,
            vol.Required("eligible"): bool,
            vol.Required("reasons"): [{vol.Required("code"): str, vol.Required("message"): str}],
        }
    ],
}


class DispatchService:
    def __init__(self, farm: Farm) -> None:
        self.farm = farm

    @property
    def dispatcher(self) -> Dispatcher:
        dispatcher = self.farm.dispatcher
        if dispatcher is None:
            raise ServiceUnavailable("The dispatcher is not running", code="DISPATCHER_UNAVAILABLE")
        return dispatcher

    def settings(self) -> dict[str, Any]:
        d = self.dispatcher
        return {"enabled": d.enabled, "interval_seconds": d.interval}

    async def update_settings(self, enabled: bool) -> dict[str, Any]:
        await self.dispatcher.set_enabled(enabled)
        return self.settings()

    async def run(self) -> dict[str, Any]:
        attempts = await self.dispatcher.run_pass()
        return {
            "attempts": [a.as_dict() for a in attempts],
            "started": sum(a.outcome == "started" for a in attempts),
        }

    async def eligibility(self, job_id: str) -> dict[str, Any]:
        async with self.farm.db.read() as conn:
            job = await fetch_one(conn, jobs, job_id, code="JOB_NOT_FOUND", label="Job")
        if job["status"] != "queued":
            raise Conflict(
                f"Job is {job['status']}; eligibility is explained for queued jobs only",
                code="INVALID_STATE",
            )
        result = await self.dispatcher.explain(job_id)
        if result is None:  # it left the queue meanwhile
            raise Conflict("Job is no longer queued", code="INVALID_STATE")
        return result

    async def history(self, *, limit: int, offset: int) -> list[dict[str, Any]]:
        query = (
            select(dispatch_attempts)
            .order_by(dispatch_attempts.c.created_at.desc(), dispatch_attempts.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        async with self.farm.db.read() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [{**dict(r), "created_at": iso(r["created_at"])} for r in rows]
