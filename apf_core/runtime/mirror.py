"""Live printer state in a follower process, mirrored from the leader's events.

Only the leader has drivers. It publishes what they report as ``printer.status`` events
(at most one per printer per second, the newest state always last), which reach every
process through the outbox. A follower keeps ``farm.live`` from them, so its status
views say what the leader's say, about a second later; at start it takes each
printer's newest ``printer.status`` from the outbox.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..domain.events import Event
from ..domain.live import LiveStatus
from ..lifecycle.status import LIVE_FIELDS
from ..storage.tables.spine import events

if TYPE_CHECKING:
    from ..farm import Farm


def live_from_event(data: dict[str, Any], when: datetime) -> LiveStatus:
    return LiveStatus(
        online=bool(data.get("online")),
        status=str(data.get("status", "offline")),
        **{attr: data.get(name) for name, (attr, _) in LIVE_FIELDS.items()},
        messages=list(data.get("messages") or []),
        trays=list(data.get("trays") or []),
        offline_reason=data.get("offline_reason"),
        last_telemetry_at=when,
    )


class LiveMirror:
    """Feeds ``farm.live`` from ``printer.*`` events while ``following()`` is true."""

    def __init__(self, farm: Farm, following: Callable[[], bool]) -> None:
        self.farm = farm
        self.following = following

    def on_event(self, event: Event) -> None:
        if not self.following():
            return
        data = event.data
        printer_id = data.get("printer_id") or data.get("id")
        if not printer_id:
            return
        if event.type == "printer.status":
            self.farm.live.set(printer_id, live_from_event(data, event.time))
        elif event.type == "printer.deleted":
            self.farm.live.drop(printer_id)

    async def seed(self) -> None:
        """Each printer's newest ``printer.status`` in the outbox (PostgreSQL)."""
        if self.farm.db.dialect != "postgresql":
            return
        printer = events.c.payload["printer_id"].as_string()
        query = (
            select(events.c.payload, events.c.created_at)
            .where(events.c.type == "printer.status")
            .distinct(printer)
            .order_by(printer, events.c.id.desc())
        )
        async with self.farm.db.read() as conn:
            rows = (await conn.execute(query)).all()
        for row in rows:
            printer_id = row.payload.get("printer_id")
            if printer_id and self.farm.live.get(printer_id) is None and self.following():
                self.farm.live.set(printer_id, live_from_event(row.payload, row.created_at))
