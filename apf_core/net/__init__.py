"""Outbound networking: the SSRF guard, printer URL parsing and log redaction."""

from .redact import RedactingFilter, redact
from .session import check_host, guarded_session, printer_policy
from .ssrf import BlockedAddress, SsrfPolicy
from .urls import PrinterURL, parse_printer_url

__all__ = [
    "BlockedAddress",
    "PrinterURL",
    "RedactingFilter",
    "SsrfPolicy",
    "check_host",
    "guarded_session",
    "parse_printer_url",
    "printer_policy",
    "redact",
]
