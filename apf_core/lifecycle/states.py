"""Job and printer states, and the job transitions allowed between them (data, not code)."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    UPLOADED = "uploaded"
    PRINTING = "printing"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class PrinterStatus(StrEnum):
    IDLE = "idle"
    PRINTING = "printing"
    PAUSED = "paused"
    MAINTENANCE = "maintenance"
    OFFLINE = "offline"
    ERROR = "error"


J = JobStatus
#: a job that holds its printer
ACTIVE_JOB_STATES: tuple[str, ...] = (J.PROCESSING, J.UPLOADED, J.PRINTING, J.PAUSED)
#: a job on the printer's bed right now (started, not finished)
RUNNING_JOB_STATES: tuple[str, ...] = (J.PRINTING, J.PAUSED)
#: a job that ended one way or another
FINISHED_JOB_STATES: tuple[str, ...] = (J.COMPLETED, J.FAILED, J.CANCELLED)
#: a job that can change no more (a failed job may still be retried or marked completed)
TERMINAL_JOB_STATES: tuple[str, ...] = (J.COMPLETED, J.CANCELLED)

#: (from, to) -> the event the transition emits. ``None`` marks the reservation a
#: command makes before it reaches the printer (and its revert): the event follows the ACK.
JOB_TRANSITIONS: dict[tuple[JobStatus, JobStatus], str | None] = {
    (J.QUEUED, J.PROCESSING): None,  # start: reserved until the printer ACKs
    (J.PROCESSING, J.QUEUED): None,  # start refused by the printer
    (J.QUEUED, J.COMPLETED): "job.completed",
    (J.QUEUED, J.CANCELLED): "job.cancelled",
    (J.QUEUED, J.FAILED): "job.failed",
    (J.PROCESSING, J.PRINTING): "job.started",
    (J.UPLOADED, J.PRINTING): "job.started",
    (J.PROCESSING, J.FAILED): "job.failed",
    (J.UPLOADED, J.FAILED): "job.failed",
    (J.PROCESSING, J.CANCELLED): "job.cancelled",
    (J.UPLOADED, J.CANCELLED): "job.cancelled",
    (J.PROCESSING, J.COMPLETED): "job.completed",
    (J.UPLOADED, J.COMPLETED): "job.completed",
    (J.PRINTING, J.PAUSED): "job.paused",
    (J.PAUSED, J.PRINTING): "job.resumed",
    (J.PRINTING, J.COMPLETED): "job.completed",
    (J.PAUSED, J.COMPLETED): "job.completed",
    (J.PRINTING, J.FAILED): "job.failed",
    (J.PAUSED, J.FAILED): "job.failed",
    (J.PRINTING, J.CANCELLED): "job.cancelled",
    (J.PAUSED, J.CANCELLED): "job.cancelled",
    (J.FAILED, J.QUEUED): "job.created",  # retry
    (J.FAILED, J.COMPLETED): "job.completed",
}

#: job events that carry the printer's ``messages`` (why it paused or failed)
MESSAGE_EVENTS = frozenset({"job.paused", "job.failed"})

#: reservations a printer command makes, and the state each returns to when the command fails
COMMAND_RESERVATIONS: dict[str, tuple[tuple[JobStatus, ...], JobStatus]] = {
    "pause": ((J.PRINTING,), J.PAUSED),
    "resume": ((J.PAUSED,), J.PRINTING),
    "stop": ((J.PRINTING, J.PAUSED, J.PROCESSING), J.CANCELLED),
}

#: the printer row status a running job implies
PRINTER_FOR_JOB: dict[JobStatus, PrinterStatus] = {
    J.PRINTING: PrinterStatus.PRINTING,
    J.PAUSED: PrinterStatus.PAUSED,
}


def sources(to: JobStatus) -> tuple[JobStatus, ...]:
    """Every state the table allows to move to ``to``."""
    return tuple(a for (a, b) in JOB_TRANSITIONS if b is to)
