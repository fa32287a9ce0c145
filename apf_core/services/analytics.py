"""Analytics (reference 3.12), computed by SQL aggregation over date ranges.

Every figure comes from ``GROUP BY`` queries; Python only shapes the (small)
aggregated results and fills empty days with zeros. Ranges are whole UTC days:
``from`` 00:00 up to the end of ``to``. Cost, margin and profit never appear.

Definitions (documented in the API):
* production counts jobs by the day they finished (``time_completed``);
  ``units_produced`` sums ``number_of_units`` of completed jobs; print time uses
  the actual minutes, else the estimate, of completed and failed jobs.
* revenue sums ``orders.total_revenue`` (cents) by ``order_date``, excluding
  cancelled and refunded orders.
* a failure is a job that ended ``failed``; its type is its ``failure_reason``.
* low stock is the inventory's own list (``inventory.low_stock_rows``, the rows of
  ``/inventory/alerts``); ``stock_level`` of a low-stock item is its finished good's
  ``ready_stock`` and ``id`` its SKU's id (see ``stock.py`` for the one definition).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from ..lifecycle import ACTIVE_JOB_STATES
from ..storage.tables.materials import filament_spools, material_components
from ..storage.tables.orders import orders
from ..storage.tables.spine import hubs, jobs, printers
from ..storage.tables.worklist import worklist_tasks
from ..timeutil import iso, utcnow
from .inventory import low_stock_rows
from .materials import low_stock_clause, stock_status
from .printers import PrinterService

if TYPE_CHECKING:
    from ..farm import Farm

EXCLUDED_ORDER_STATUSES = ("cancelled", "refunded")
DEFAULT_DAYS = 30
MAX_DAYS = 3660
TOP = 20


@dataclass(frozen=True, slots=True)
class DateRange:
    """Whole UTC days ``first``..``last`` (inclusive)."""

    first: date
    last: date

    @classmethod
    def build(cls, start: date | None, end: date | None) -> DateRange:
        last = end or utcnow().date()
        first = start or last - timedelta(days=DEFAULT_DAYS)
        return cls(first, last)

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time.min, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """Exclusive upper bound: midnight after ``last``."""
        return datetime.combine(self.last + timedelta(days=1), time.min, tzinfo=UTC)

    @property
    def days(self) -> list[str]:
        count = (self.last - self.first).days + 1
        return [(self.first + timedelta(days=n)).isoformat() for n in range(count)]

    @property
    def minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60

    def where(self, column: Any) -> ColumnElement[bool]:
        return and_(column >= self.start, column < self.end)

    def as_dict(self) -> dict[str, str]:
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}


def day_bucket(column: Any, dialect: str) -> ColumnElement[str]:
    """``YYYY-MM-DD`` of a UTC timestamp column, the same text on SQLite and PostgreSQL."""
    if dialect == "postgresql":
        utc = func.timezone(literal_column("'UTC'"), column)
        return func.to_char(utc, literal_column("'YYYY-MM-DD'"))
    return func.date(column)  # SQLite stores naive UTC text


def finished_status(*values: str) -> ColumnElement[bool]:
    """``jobs.status IN values``; with a ``time_completed`` range this is a seek on
    ``ix_jobs_status_completed`` (migration 0003) on SQLite and PostgreSQL alike."""
    return jobs.c.status.in_(values)


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


def _sum_if(condition: ColumnElement[bool], value: Any) -> ColumnElement[Any]:
    return func.sum(case((condition, value), else_=0))


def _rate(part: int, whole: int) -> float | None:
    return round(part * 100 / whole, 1) if whole else None


def _int(value: Any) -> int:
    return int(value or 0)


def _print_minutes() -> ColumnElement[Any]:
    return func.coalesce(jobs.c.actual_print_time_minutes, jobs.c.estimated_print_time_minutes, 0)


class AnalyticsService:
    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self.db = farm.db

    @property
    def dialect(self) -> str:
        return self.db.dialect

    # --- overview ---------------------------------------------------------
    async def overview(self) -> dict[str, Any]:
        """Live counts: printers, jobs, worklist, hubs and low-stock alerts."""
        printer_stats = await PrinterService(self.farm).stats()
        now = utcnow()
        today = datetime.combine(now.date(), time.min, tzinfo=UTC)
        open_task = worklist_tasks.c.status.in_(("pending", "in_progress"))
        async with self.db.read() as conn:
            open_jobs: dict[str, int] = {status: int(n) for status, n in (await conn.execute(
                select(jobs.c.status, func.count())
                .where(jobs.c.status.in_(("queued", *ACTIVE_JOB_STATES))).group_by(jobs.c.status)
            )).all()}
            today_row = (await conn.execute(select(
                _count_if(jobs.c.status == "completed"), _count_if(jobs.c.status == "failed"),
            ).where(jobs.c.time_completed >= today))).one()
            task_row = (await conn.execute(select(
                _count_if(worklist_tasks.c.status == "pending"),
                _count_if(worklist_tasks.c.status == "in_progress"),
                _count_if(and_(open_task, worklist_tasks.c.due_date < now)),
            ))).one()
            hub_row = (await conn.execute(select(
                func.count(), _count_if(hubs.c.is_online.is_(True))
            ).select_from(hubs))).one()
            low_skus = len(await low_stock_rows(conn))
            low_spools = await conn.scalar(select(func.count()).select_from(filament_spools).where(
                low_stock_clause(filament_spools, "remaining_grams")))
            low_components = await conn.scalar(
                select(func.count()).select_from(material_components)
                .where(low_stock_clause(material_components, "remaining_units")))
        return {
            "date": now.date().isoformat(),
            "generated_at": iso(now),
            "printers": {**printer_stats["by_status"], "total": printer_stats["total"]},
            "jobs": {
                "queued": open_jobs.get("queued", 0),
                "active": sum(open_jobs.get(s, 0) for s in ACTIVE_JOB_STATES),
                "completed_today": _int(today_row[0]), "failed_today": _int(today_row[1]),
            },
            "worklist": {
                "pending": _int(task_row[0]), "in_progress": _int(task_row[1]),
                "overdue": _int(task_row[2]),
            },
            "hubs": {"total": _int(hub_row[0]), "online": _int(hub_row[1])},
            "alerts": {
                "low_stock_skus": low_skus, "low_filament_spools": _int(low_spools),
                "low_components": _int(low_components),
            },
        }

    # --- production -------------------------------------------------------
    async def production(self, span: DateRange, *, printer_id: str | None,
                         product_id: str | None) -> dict[str, Any]:
        day = day_bucket(jobs.c.time_completed, self.dialect).label("day")
        completed = jobs.c.status == "completed"
        query = select(
            day,
            _count_if(completed),
            _count_if(jobs.c.status == "failed"),
            _sum_if(completed, jobs.c.number_of_units),
            func.sum(_print_minutes()),
        ).where(finished_status("completed", "failed"), span.where(jobs.c.time_completed))
        if printer_id:
            query = query.where(jobs.c.printer_id == printer_id)
        if product_id:
            query = query.where(jobs.c.product_id == product_id)
        with_revenue = not printer_id and not product_id
        async with self.db.read() as conn:
            rows = (await conn.execute(query.group_by(day))).all()
            revenue = await self._revenue_by_day(conn, span) if with_revenue else {}
        by_day = {r[0]: r for r in rows}
        daily: list[dict[str, Any]] = []
        for name in span.days:
            row = by_day.get(name)
            daily.append({
                "date": name,
                "jobs_completed": _int(row[1]) if row else 0,
                "jobs_failed": _int(row[2]) if row else 0,
                "units_produced": _int(row[3]) if row else 0,
                "total_print_time_minutes": _int(row[4]) if row else 0,
                "revenue_cents": revenue.get(name, (0, 0))[0] if with_revenue else None,
            })
        done = sum(d["jobs_completed"] for d in daily)
        failed = sum(d["jobs_failed"] for d in daily)
        minutes = sum(d["total_print_time_minutes"] for d in daily)
        return {
            "date_range": span.as_dict(),
            "summary": {
                "jobs_completed": done,
                "jobs_failed": failed,
                "completion_rate": _rate(done, done + failed) or 0.0,
                "units_produced": sum(d["units_produced"] for d in daily),
                "total_print_time_hours": round(minutes / 60, 1),
                "revenue_cents": sum(r for r, _ in revenue.values()) if with_revenue else None,
            },
            "daily": daily,
        }

    # --- printers ---------------------------------------------------------
    async def printers(self, span: DateRange) -> dict[str, Any]:
        completed = jobs.c.status == "completed"
        failed = jobs.c.status == "failed"
        per_printer = (
            select(
                jobs.c.printer_id,
                func.count().label("total"),
                _count_if(completed).label("completed"),
                _count_if(failed).label("failed"),
                _count_if(jobs.c.status == "cancelled").label("cancelled"),
                _sum_if(or_(completed, failed), _print_minutes()).label("minutes"),
            )
            .where(finished_status("completed", "failed", "cancelled"),
                   span.where(jobs.c.time_completed))
            .group_by(jobs.c.printer_id)
            .subquery()
        )
        query = (
            select(printers.c.id, printers.c.name, printers.c.model, printers.c.status,
                   printers.c.in_maintenance, printers.c.is_active, per_printer)
            .select_from(printers.outerjoin(per_printer, per_printer.c.printer_id == printers.c.id))
            .order_by(printers.c.name, printers.c.id)
        )
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).mappings().all()
        fleet = []
        fleet_minutes = 0
        for row in rows:  # one row per printer, not per job
            done, bad, minutes = _int(row["completed"]), _int(row["failed"]), _int(row["minutes"])
            fleet_minutes += minutes
            fleet.append({
                "id": row["id"], "name": row["name"], "model": row["model"],
                "status": "maintenance" if row["in_maintenance"] else row["status"],
                "in_maintenance": bool(row["in_maintenance"]), "is_active": bool(row["is_active"]),
                "total_jobs": _int(row["total"]), "completed": done, "failed": bad,
                "cancelled": _int(row["cancelled"]),
                "success_rate": _rate(done, done + bad),
                "failure_count": bad,
                "total_print_hours": round(minutes / 60, 1),
                "utilization_percent": min(100.0, round(minutes * 100 / span.minutes, 1)),
            })
        rates = [p["success_rate"] for p in fleet if p["success_rate"] is not None]
        return {
            "date_range": span.as_dict(),
            "summary": {
                "total_printers": len(fleet),
                "average_utilization": round(
                    sum(p["utilization_percent"] for p in fleet) / len(fleet), 1) if fleet else 0.0,
                "average_success_rate": round(sum(rates) / len(rates), 1) if rates else None,
                "total_jobs": sum(p["total_jobs"] for p in fleet),
                "total_failures": sum(p["failed"] for p in fleet),
                "total_print_hours": round(fleet_minutes / 60, 1),
            },
            "printers": fleet,
        }

    # --- failures ---------------------------------------------------------
    async def failures(self, span: DateRange, *, printer_id: str | None) -> dict[str, Any]:
        in_range = [span.where(jobs.c.time_completed)]
        if printer_id:
            in_range.append(jobs.c.printer_id == printer_id)
        failed = and_(finished_status("failed"), *in_range)
        reason = func.coalesce(
            func.nullif(jobs.c.failure_reason, literal_column("''")), literal_column("'unknown'")
        ).label("reason")
        day = day_bucket(jobs.c.time_completed, self.dialect).label("day")
        name = func.coalesce(printers.c.name, "unassigned")
        async with self.db.read() as conn:
            totals = (await conn.execute(select(
                _count_if(jobs.c.status == "failed"), _count_if(jobs.c.status == "completed")
            ).where(finished_status("failed", "completed"), *in_range))).one()
            by_type = (await conn.execute(
                select(reason, func.count().label("n")).where(failed)
                .group_by(reason).order_by(func.count().desc(), reason).limit(TOP)
            )).all()
            by_printer = (await conn.execute(
                select(jobs.c.printer_id, func.max(name), func.count().label("n"))
                .select_from(jobs.outerjoin(printers, printers.c.id == jobs.c.printer_id))
                .where(failed).group_by(jobs.c.printer_id)
                .order_by(func.count().desc(), jobs.c.printer_id).limit(TOP)
            )).all()
            trend = (await conn.execute(
                select(day, func.count()).where(failed).group_by(day)
            )).all()
            recent = (await conn.execute(
                select(jobs.c.id, jobs.c.printer_id, printers.c.name, jobs.c.file_name,
                       jobs.c.product_name, jobs.c.failure_reason, jobs.c.time_completed)
                .select_from(jobs.outerjoin(printers, printers.c.id == jobs.c.printer_id))
                .where(failed).order_by(jobs.c.time_completed.desc(), jobs.c.id.desc()).limit(TOP)
            )).all()
        total_failed, total_completed = _int(totals[0]), _int(totals[1])
        per_day = {d: _int(n) for d, n in trend}
        return {
            "date_range": span.as_dict(),
            "summary": {
                "total_failures": total_failed,
                "failure_rate": _rate(total_failed, total_failed + total_completed) or 0.0,
            },
            "by_type": [{"failure_type": r, "count": _int(n)} for r, n in by_type],
            "by_printer": [
                {"printer_id": p, "printer_name": n, "count": _int(c)} for p, n, c in by_printer
            ],
            "daily": [{"date": d, "count": per_day.get(d, 0)} for d in span.days],
            "recent": [
                {"job_id": j, "printer_id": p, "printer_name": n, "file_name": f,
                 "product_name": pn, "failure_reason": r, "failed_at": iso(t)}
                for j, p, n, f, pn, r, t in recent
            ],
        }

    # --- inventory --------------------------------------------------------
    async def inventory(self, span: DateRange) -> dict[str, Any]:
        material = func.coalesce(
            jobs.c.material_type, jobs.c.filament_type, literal_column("'unknown'")
        ).label("material")
        grams = func.coalesce(jobs.c.filament_weight_grams, 0.0)
        used = and_(finished_status("completed", "failed"), span.where(jobs.c.time_completed))
        day = day_bucket(jobs.c.time_completed, self.dialect).label("day")
        spools = filament_spools
        async with self.db.read() as conn:
            low_rows = await low_stock_rows(conn)
            spool_rows = (await conn.execute(
                select(spools.c.type, spools.c.color, spools.c.remaining_grams,
                       spools.c.low_threshold).order_by(spools.c.type, spools.c.color, spools.c.id)
            )).all()
            # one pass: grams per (day, material); at most days x materials rows come back
            cells = (await conn.execute(
                select(day, material, func.sum(grams)).where(used).group_by(day, material)
            )).all()
        filament = [
            {"type": t, "color": c, "status": stock_status(g, lt), "remaining_grams": g,
             "low_threshold": lt}
            for t, c, g, lt in spool_rows
        ]
        per_day: dict[str, float] = {}
        per_material: dict[str, float] = {}
        for cell_day, cell_material, cell_grams in cells:
            per_day[cell_day] = per_day.get(cell_day, 0.0) + float(cell_grams or 0)
            per_material[cell_material] = per_material.get(cell_material, 0.0) + float(
                cell_grams or 0)
        usage = sorted(per_material.items(), key=lambda item: (-item[1], item[0]))
        return {
            "date_range": span.as_dict(),
            "summary": {
                "low_stock_skus": len(low_rows),
                "low_filament_spools": sum(1 for f in filament if f["status"] != "in_stock"),
                "total_material_types": len({f["type"] for f in filament}),
            },
            "low_stock_items": [
                {"id": r["product_sku_id"], "sku": r["sku"], "color": r["color"],
                 "stock_level": r["ready_stock"], "low_stock_threshold": r["low_stock_threshold"],
                 "product_name": r["product_name"]}
                for r in low_rows[:TOP]
            ],
            "filament_inventory": filament,
            "material_usage": [
                {"material_type": m, "total_usage": round(float(g or 0), 1)} for m, g in usage
            ],
            "usage_trend": [
                {"date": d, "usage": round(per_day.get(d, 0.0), 1)} for d in span.days
            ],
        }

    # --- revenue ----------------------------------------------------------
    async def revenue(self, span: DateRange) -> dict[str, Any]:
        counted = and_(orders.c.status.not_in(EXCLUDED_ORDER_STATUSES),
                       span.where(orders.c.order_date))
        async with self.db.read() as conn:
            per_day = await self._revenue_by_day(conn, span)
            platforms = (await conn.execute(
                select(orders.c.platform, func.sum(orders.c.total_revenue), func.count())
                .where(counted).group_by(orders.c.platform)
                .order_by(func.sum(orders.c.total_revenue).desc(), orders.c.platform)
            )).all()
        total = sum(cents for cents, _ in per_day.values())
        count = sum(n for _, n in per_day.values())
        return {
            "date_range": span.as_dict(),
            "summary": {
                "total_revenue_cents": total,
                "order_count": count,
                "average_order_value": round(total / count) if count else 0,
            },
            "by_platform": [
                {"platform": p, "revenue_cents": _int(c), "orders": _int(n)}
                for p, c, n in platforms
            ],
            "daily": [{"date": d, "revenue_cents": per_day.get(d, (0, 0))[0]} for d in span.days],
        }

    # --- shared -----------------------------------------------------------
    async def _revenue_by_day(self, conn: AsyncConnection,
                              span: DateRange) -> dict[str, tuple[int, int]]:
        day = day_bucket(orders.c.order_date, self.dialect).label("day")
        rows = (await conn.execute(
            select(day, func.sum(orders.c.total_revenue), func.count())
            .where(orders.c.status.not_in(EXCLUDED_ORDER_STATUSES),
                   span.where(orders.c.order_date))
            .group_by(day)
        )).all()
        return {d: (_int(cents), _int(n)) for d, cents, n in rows}

