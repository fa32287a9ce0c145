"""The client parses the newer optional status and /server fields tolerantly."""

from __future__ import annotations

from datetime import UTC, datetime

from apf_client import KeyInfo, PrinterStatus, ServerInfo, Tray


def test_status_with_every_new_field() -> None:
    status = PrinterStatus.from_dict(
        {
            "printer_id": "p1",
            "print_started_at": "2026-11-21T10:45:00Z",
            "error": "Thermal runaway",
            "offline_reason": None,
            "messages": [
                {"code": "E1", "severity": "fatal", "text": "Thermal runaway", "url": "https://x"},
                {"code": "0700_2000", "severity": "warning"},  # no text: the code stands in
                {"severity": "info"},  # neither: dropped
                "not an object",
            ],
            "trays": [
                {"tray_id": 0, "unit": 0, "slot": 0, "filament_type": "PLA",
                 "color_hex": "#222222", "remaining_percent": 80, "active": True},
                {"tray_id": 254, "unit": None, "slot": None},
                {"unit": 1},  # no tray_id: dropped
            ],
            "speed_level": "sport",
            "speed_percent": "124",
        }
    )
    assert status.print_started_at == datetime(2026, 11, 21, 10, 45, tzinfo=UTC)
    assert status.error == "Thermal runaway"
    assert [m.text for m in status.messages] == ["Thermal runaway", "0700_2000"]
    assert status.messages[0].severity == "fatal" and status.messages[0].url == "https://x"
    assert status.trays == (
        Tray("0", 0, 0, "PLA", "#222222", 80.0, True),
        Tray("254"),
    )
    assert status.speed_level == "sport" and status.speed_percent == 124.0


def test_old_servers_report_none_of_it() -> None:
    status = PrinterStatus.from_dict({"printer_id": "p1", "trays": "garbage", "messages": None})
    assert status.print_started_at is None and status.offline_reason is None
    assert status.messages == ()
    assert status.trays is None  # not reported, unlike [] (no trays)
    assert PrinterStatus.from_dict({"printer_id": "p1", "trays": []}).trays == ()


def test_server_describes_the_key() -> None:
    server = ServerInfo.from_dict(
        {
            "server_id": "s1",
            "api": "autoprintfarm-public-v1",
            "key": {"id": "k1", "name": "ha", "scopes": ["read", "write"], "expires_at": None},
        }
    )
    assert server.api == "autoprintfarm-public-v1"
    assert server.key == KeyInfo("k1", "ha", frozenset({"read", "write"}))
    assert server.key.missing("write", "control") == ["control"]
    assert ServerInfo.from_dict({"server_id": "s1", "key": "nonsense"}).key is None
    assert ServerInfo.from_dict({"server_id": "s1"}).key is None
