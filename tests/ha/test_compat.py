"""compat.py: both sides of every feature check (the 2026.x side simulated)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from unittest.mock import patch

import pytest
from homeassistant.helpers.update_coordinator import UpdateFailed

from custom_components.autoprintfarm import compat


def test_detection_on_this_core() -> None:
    import homeassistant.config_entries as ce

    assert hasattr(ce, "OptionsFlowWithReload") == compat.HAS_OPTIONS_FLOW_WITH_RELOAD
    assert issubclass(compat.OptionsFlowBase, ce.OptionsFlow)


def test_via_hub_both_ways() -> None:
    with patch.object(compat, "HAS_VIA_DEVICE_ID", False):
        assert compat.via_hub(("autoprintfarm", "farm"), "dev1") == {
            "via_device": ("autoprintfarm", "farm")
        }
    with patch.object(compat, "HAS_VIA_DEVICE_ID", True):
        assert compat.via_hub(("autoprintfarm", "farm"), "dev1") == {"via_device_id": "dev1"}


def test_update_failed_retry_after_only_when_supported() -> None:
    err = compat.update_failed(key="rate_limited", retry_after=30)
    assert isinstance(err, UpdateFailed)
    assert err.translation_key == "rate_limited"

    captured: dict[str, Any] = {}

    class NewUpdateFailed(UpdateFailed):
        def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            captured["retry_after"] = retry_after

    with (
        patch.object(compat, "UPDATE_FAILED_HAS_RETRY_AFTER", True),
        patch.object(compat, "UpdateFailed", NewUpdateFailed),
    ):
        compat.update_failed(key="rate_limited", retry_after=30)
    assert captured == {"retry_after": 30}


@pytest.mark.parametrize(
    ("device", "expected"),
    [
        (SimpleNamespace(config_entry_id="e1", config_entries={"e1", "e2"}), {"e1"}),  # 2026.8+
        (SimpleNamespace(config_entries={"e1", "e2"}), {"e1", "e2"}),  # 2025.x
        (SimpleNamespace(config_entry_id=None, config_entries={"e3"}), {"e3"}),
    ],
)
def test_device_entry_ids(device: Any, expected: set[str]) -> None:
    assert compat.device_entry_ids(device) == expected
