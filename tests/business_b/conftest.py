"""Fixtures for the operations tests: the shared running-server fixtures."""

from __future__ import annotations

# _manual_dispatch (autouse): the dispatcher stays off, so demo jobs do not start on the
# printers these tests put into maintenance or read counts from
from tests.api.conftest import (  # noqa: F401  (re-exported fixtures)
    _manual_dispatch,
    api,
    empty_api,
    farm_options,
)
