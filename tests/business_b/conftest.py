"""Fixtures for the operations tests: the shared running-server fixtures."""

from __future__ import annotations

from tests.api.conftest import api, empty_api, farm_options  # noqa: F401  (re-exported fixtures)
