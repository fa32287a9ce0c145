"""Automatic job routing: hard constraints, soft score, synchronous reservation."""

from __future__ import annotations

from .dispatcher import Attempt, Dispatcher
from .model import JobInfo, PrinterInfo, Reason, Slot, eligibility, plan

__all__ = [
    "Attempt",
    "Dispatcher",
    "JobInfo",
    "PrinterInfo",
    "Reason",
    "Slot",
    "eligibility",
    "plan",
]
