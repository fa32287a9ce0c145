"""Repair issues: what the user must fix on the server side."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir

from .apf_client import ServerInfo
from .const import DOMAIN

# Pause/resume/stop/light/temperatures need `control`; queue and stock actions need `write`.
NEEDED_SCOPES = ("write", "control")


def missing_scopes_issue_id(entry_id: str) -> str:
    return f"missing_scopes_{entry_id}"


def sync_scope_issue(hass: HomeAssistant, entry_id: str, title: str, server: ServerInfo) -> None:
    """Raise a repair issue while the API key lacks `write` or `control`; clear it otherwise.

    Servers that do not describe the calling key (no `key` in /server) raise nothing.
    """
    issue_id = missing_scopes_issue_id(entry_id)
    missing = server.key.missing(*NEEDED_SCOPES) if server.key is not None else []
    if not missing:
        ir.async_delete_issue(hass, DOMAIN, issue_id)
        return
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key="missing_scopes",
        translation_placeholders={
            "title": title,
            "missing": ", ".join(missing),
            "key_name": (server.key.name if server.key else None) or "?",
        },
        learn_more_url="https://github.com/apf-project/apf/blob/main/docs/home-assistant.md#api-key",
    )
