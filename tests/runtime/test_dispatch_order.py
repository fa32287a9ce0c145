"""The dispatcher's snapshot comes sorted by the database: on random farms it
must plan exactly what the pure planner plans from the same jobs sorted in Python."""

from __future__ import annotations

import random
import string
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, insert

from apf_core.dispatch import JobInfo, PrinterInfo, Slot, eligibility, plan
from apf_core.storage.tables.spine import jobs
from apf_core.timeutil import utcnow
from tests.runtime.conftest import Farm

MODELS = ["MK4", "X1 Carbon", "P1S"]
MATERIALS = ["PLA", "PETG"]
COLOURS = ["Black", "White", "#FF0000"]
TAGS = ["fast", "big", "Rack-A"]
#: mixed case, digits and punctuation: a locale collation would order these differently
ID_CHARS = string.ascii_letters + string.digits + "-_."


def _printers(rng: random.Random) -> list[PrinterInfo]:
    return [
        PrinterInfo(
            id=f"p{i}",
            name=f"printer {rng.randint(0, 9)}",
            model=rng.choice(MODELS),
            nozzle_size=rng.choice([0.4, 0.6, None]),
            tags=frozenset(t.lower() for t in rng.sample(TAGS, rng.randint(0, 2))),
            slots=(Slot(rng.choice([*MATERIALS, None]), rng.choice([*COLOURS, None]), None),),
            awaiting_bed_clear=rng.random() < 0.2,
            load=(rng.randint(0, 2), rng.randint(0, 3)),
        )
        for i in range(rng.randint(1, 25))
    ]


def _job_rows(rng: random.Random, file_id: str) -> list[dict[str, Any]]:
    now = utcnow()
    # few distinct priorities and times: many ties, broken by id
    times = [
        now - timedelta(seconds=rng.randint(0, 3), microseconds=rng.randint(0, 9)) for _ in "abc"
    ]
    return [
        {
            "id": "".join(rng.choices(ID_CHARS, k=rng.randint(4, 10))) + f"{i:04d}",
            "status": "queued",
            "print_file_id": file_id,
            "file_name": "part.gcode",
            "priority": rng.choice([-1, 0, 0, 5]),
            "filament_type": rng.choice([*MATERIALS, None]),
            "color": rng.choice([*COLOURS, None]),
            "printer_model": rng.choice([*MODELS, None, None]),
            "required_tags": rng.sample(TAGS, rng.randint(0, 2)) or rng.choice([None, []]),
            "time_submitted": rng.choice(times),
            "created_at": now,
            "updated_at": now,
        }
        for i in range(rng.randint(0, 60))
    ]


def _in_python(rows: list[dict[str, Any]]) -> list[JobInfo]:
    """The jobs as the planner sorts them itself (by ``JobInfo.order_key``)."""
    return [
        JobInfo(
            row["id"],
            row["priority"],
            row["time_submitted"],
            None,
            row["printer_model"],
            0.4,
            row["filament_type"],
            row["color"],
            frozenset(t.lower() for t in row["required_tags"] or ()),
        )
        for row in rows
    ]


def _ids(pairs: list[tuple[JobInfo, PrinterInfo]]) -> list[tuple[str, str]]:
    return [(job.id, printer.id) for job, printer in pairs]


async def test_database_order_plans_like_python_order(farm: Farm) -> None:
    core = farm.api.farm
    dispatcher = core.dispatcher
    assert dispatcher is not None
    rng = random.Random(14)
    file_id = await farm.add_file(nozzle=0.4)  # no model: a job's own model decides
    assigned = 0
    for _ in range(40):
        rows = _job_rows(rng, file_id)
        async with core.db.begin() as conn:
            await conn.execute(delete(jobs))
            if rows:
                await conn.execute(insert(jobs), rows)
        printers = _printers(rng)
        loaded = await dispatcher.load_jobs()
        assert [j.id for j in loaded] == [
            j.id for j in sorted(_in_python(rows), key=JobInfo.order_key)
        ]
        expected = _ids(plan(_in_python(rows), printers))
        assert _ids(plan(loaded, printers, ordered=True)) == expected
        assigned += len(expected)
    assert assigned > 100  # the farms were not all trivially empty


def _reference_plan(
    jobs_: list[JobInfo], printers: list[PrinterInfo]
) -> list[tuple[JobInfo, PrinterInfo]]:
    """The rule, one pair at a time: each job in order takes the least loaded free
    printer that :func:`eligibility` (what users are shown) accepts."""
    free = sorted(printers, key=lambda p: (p.load, p.name, p.id))
    result = []
    for job in sorted(jobs_, key=JobInfo.order_key):
        printer = next((p for p in free if not eligibility(job, p)), None)
        if printer is not None:
            free.remove(printer)
            result.append((job, printer))
    return result


def test_plan_matches_the_pairwise_rule() -> None:
    rng = random.Random(2)
    assigned = 0
    for _ in range(200):
        printers = _printers(rng)
        for p in rng.sample(printers, len(printers) // 4):
            p.slots = (*p.slots, Slot(rng.choice(MATERIALS), None, "#FF0000"))
        rows = _job_rows(rng, "file")
        job_infos = _in_python(rows)
        for job in rng.sample(job_infos, len(job_infos) // 5):
            job.printer_id = rng.choice(printers).id
        for job in rng.sample(job_infos, len(job_infos) // 5):
            job.avoid = frozenset(p.id for p in rng.sample(printers, 1))
        expected = _ids(_reference_plan(job_infos, printers))
        assert _ids(plan(job_infos, printers)) == expected
        assigned += len(expected)
    assert assigned > 500


async def test_snapshot_counts_queued_and_active_jobs_per_printer(farm: Farm) -> None:
    core = farm.api.farm
    assert core.dispatcher is not None
    a = await farm.add_printer("A")
    b = await farm.add_printer("B")
    file_id = await farm.add_file()
    rows = [row for seed in range(10) for row in _job_rows(random.Random(seed), file_id)][:4]
    for row, (printer_id, status) in zip(
        rows, [(a, "queued"), (a, "queued"), (b, "printing"), (None, "queued")], strict=True
    ):
        row.update(printer_id=printer_id, status=status)
    async with core.db.begin() as conn:
        await conn.execute(insert(jobs), rows)
    infos = {p.id: p for p in await core.dispatcher.load_printers()}
    assert (infos[a].load[0], infos[a].has_active_job) == (2, False)
    assert (infos[b].load[0], infos[b].has_active_job) == (0, True)
