"""The print lifecycle: job and printer states and the only code that changes them."""

from .machine import JobHook, Lifecycle
from .states import (
    ACTIVE_JOB_STATES,
    FINISHED_JOB_STATES,
    JOB_TRANSITIONS,
    RUNNING_JOB_STATES,
    TERMINAL_JOB_STATES,
    JobStatus,
    PrinterStatus,
)
from .views import JOB_FIELDS, job_view

__all__ = [
    "ACTIVE_JOB_STATES",
    "FINISHED_JOB_STATES",
    "JOB_FIELDS",
    "JOB_TRANSITIONS",
    "RUNNING_JOB_STATES",
    "TERMINAL_JOB_STATES",
    "JobHook",
    "JobStatus",
    "Lifecycle",
    "PrinterStatus",
    "job_view",
]
