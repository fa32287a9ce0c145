"""Typed errors raised by :class:`apf_client.ApfClient`.

Every error carries the server's machine-readable ``code`` (``None`` when the
failure never reached the server) and, for HTTP failures, the ``status``.
"""

from __future__ import annotations


class APFError(Exception):
    """Base class of every client error."""

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class APFConnectionError(APFError):
    """The server could not be reached, timed out, or dropped the connection."""


class APFResponseError(APFError):
    """The server answered with something that is not the documented envelope."""


class APFAuthenticationError(APFError):
    """401: the key is missing, invalid, revoked or expired."""


class APFInsufficientScopeError(APFError):
    """403: the key lacks the scope the endpoint needs."""


class APFNotFoundError(APFError):
    """404: the resource (or route) does not exist."""


class APFEventStreamUnavailable(APFNotFoundError):
    """The server has no event stream (404 on ``/events/ws``): poll instead."""


class APFRateLimitError(APFError):
    """429: the key's request budget is used up; ``retry_after`` is in seconds."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = "RATE_LIMITED",
        status: int | None = 429,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, code=code, status=status)
        self.retry_after = retry_after
