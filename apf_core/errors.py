"""Domain errors: what went wrong, in words, with the documented public error code.

They know nothing of HTTP. Services, the dispatcher and the lifecycle raise them; the API
layer alone (:mod:`apf_core.api.errors`) maps each kind to a status and the flat envelope.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A failure a client may be told about: ``code``, a safe ``message`` and ``extra``
    fields for the envelope. ``field`` names the input at fault, when there is one."""

    code = "BAD_REQUEST"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field
        self.extra = extra or {}


class BadRequest(DomainError):
    """The request cannot be carried out as asked (a rule of the domain refuses it)."""

    code = "BAD_REQUEST"


class ValidationFailed(DomainError):
    """An input value is invalid; ``field`` names it and the envelope lists it in
    ``details`` (unless ``extra`` already carries them)."""

    code = "VALIDATION_ERROR"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        extra = dict(extra or {})
        if field is not None and "details" not in extra:
            extra["details"] = [{"field": field, "message": message}]
        super().__init__(message, code=code, field=field, extra=extra)


class Unauthorized(DomainError):
    """No valid credentials (a missing, unknown, revoked or expired key or token)."""

    code = "UNAUTHORIZED"


class Forbidden(DomainError):
    """Valid credentials that do not allow this."""

    code = "FORBIDDEN"


class NotFound(DomainError):
    code = "NOT_FOUND"


class Conflict(DomainError):
    """The current state of something forbids the request (busy, in use, duplicate)."""

    code = "CONFLICT"


class InvalidState(Conflict):
    """A command that does not apply to the thing's current state."""

    code = "INVALID_STATE"


class TooLarge(DomainError):
    """An upload or value beyond a configured size limit."""

    code = "PAYLOAD_TOO_LARGE"


class Unavailable(DomainError):
    """Something the request needs cannot be reached now (a hub, a printer, the queue)."""

    code = "SERVICE_UNAVAILABLE"


#: the older name, kept for callers that still use it
ServiceUnavailable = Unavailable
