"""HTTP at the edge: the status each domain error answers with, and the errors only the
HTTP layer itself raises (rate limits). Nothing outside :mod:`apf_core.api` imports this."""

from __future__ import annotations

from typing import Any

from ..errors import (
    BadRequest,
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    TooLarge,
    Unauthorized,
    Unavailable,
    ValidationFailed,
)

#: domain error kind -> HTTP status (the most specific class in an error's MRO wins)
STATUS_FOR: dict[type[DomainError], int] = {
    BadRequest: 400,
    ValidationFailed: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    Unavailable: 503,
}


class ApiError(DomainError):
    """An error of the HTTP layer itself, with its own status (e.g. 429 rate limited)."""

    def __init__(
        self, message: str, *, code: str, status: int, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, code=code, extra=extra)
        self.status = status


def http_status(err: DomainError) -> int:
    if isinstance(err, ApiError):
        return err.status
    for kind in type(err).__mro__:
        status = STATUS_FOR.get(kind)  # type: ignore[call-overload]
        if status is not None:
            return status
    return 400
