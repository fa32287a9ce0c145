"""What a printer report does to its job: the rules table, without a server."""

from __future__ import annotations

from datetime import timedelta

from apf_core.drivers.base import Status
from apf_core.lifecycle import JobStatus
from apf_core.lifecycle.facts import ROW_STATUS, Report, job_target
from apf_core.lifecycle.states import PrinterStatus
from apf_core.timeutil import utcnow


def _job(status: str, *, age: float, started: float | None = None) -> dict[str, object]:
    now = utcnow()
    return {
        "status": status,
        "updated_at": now - timedelta(seconds=age),
        "time_started": None if started is None else now - timedelta(seconds=started),
    }


def test_a_start_the_printer_never_began_fails_after_the_timeout() -> None:
    report = Report("p", Status.IDLE, Status.IDLE, start_timeout_seconds=60)
    assert job_target(_job("processing", age=10), report, utcnow()) is None
    target = job_target(_job("processing", age=61), report, utcnow())
    assert target is not None and target[0] is JobStatus.FAILED
    assert str(target[1]["failure_reason"]).startswith("START_TIMEOUT")


def test_a_printer_that_restarted_idle_fails_its_print_and_rests_idle() -> None:
    report = Report("p", Status.IDLE, Status.OFFLINE)
    target = job_target(_job("printing", age=100, started=100), report, utcnow())
    assert target is not None and target[0] is JobStatus.FAILED
    assert "came back" in str(target[1]["failure_reason"])
    for resting in (Status.IDLE, Status.FINISHED, Status.CANCELLED):
        assert ROW_STATUS[resting] is PrinterStatus.IDLE  # never a stale cancelled/failed


def test_pause_at_the_printer_is_not_mirrored_while_a_command_is_in_flight() -> None:
    job = _job("printing", age=100, started=100)
    assert job_target(job, Report("p", Status.PAUSED, Status.PRINTING, mirror=False), utcnow()) is None
    target = job_target(job, Report("p", Status.PAUSED, Status.PRINTING, progress=42.0), utcnow())
    assert target == (JobStatus.PAUSED, {"progress_percentage": 42.0})


def test_finished_completes_with_full_progress() -> None:
    target = job_target(_job("paused", age=5, started=600), Report("p", Status.FINISHED, Status.PAUSED), utcnow())
    assert target is not None and target[0] is JobStatus.COMPLETED
    assert target[1]["progress_percentage"] == 100.0 and target[1]["actual_print_time_minutes"] == 10


def test_a_start_acknowledged_but_never_begun_fails_with_no_bed_to_clear() -> None:
    """The job moved to printing on the ACK; the printer never left idle."""
    job = _job("printing", age=5, started=5)
    never = Report("p", Status.IDLE, Status.IDLE, start_timeout_seconds=60, began=False)
    assert job_target(job, never, utcnow()) is None  # not yet
    job = _job("printing", age=61, started=61)
    target = job_target(job, never, utcnow())
    assert target is not None and target[0] is JobStatus.FAILED
    assert str(target[1]["failure_reason"]).startswith("START_TIMEOUT")
    assert target[1]["time_started"] is None  # nothing printed: the printer needs no bed clear
    began = Report("p", Status.IDLE, Status.IDLE, start_timeout_seconds=60)
    target = job_target(job, began, utcnow())
    assert target is not None and "without reporting a result" in str(target[1]["failure_reason"])
