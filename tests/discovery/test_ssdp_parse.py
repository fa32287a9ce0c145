"""Bambu SSDP NOTIFY parsing, the merge of announcements and the listener itself."""

from __future__ import annotations

import asyncio
import socket

from apf_core.discovery.model import Found, merge
from apf_core.discovery.ssdp import listen, parse_notify


def notify(*, eol: str = "\r\n", **headers: str) -> bytes:
    fields = {
        "HOST": "239.255.255.250:1900",
        "Server": "UPnP/1.0",
        "Location": "192.168.1.50",
        "NT": "urn:bambulab-com:device:3dprinter:1",
        "USN": "01S00C123456789",
        "Cache-Control": "max-age=1800",
        "DevModel.bambu.com": "C12",
        "DevName.bambu.com": "Bench P1S",
        "DevVersion.bambu.com": "01.08.02.00",
    }
    fields.update(headers)
    lines = ["NOTIFY * HTTP/1.1", *(f"{k}: {v}" for k, v in fields.items() if v is not None)]
    return (eol.join(lines) + eol + eol).encode()


def test_a_bambu_notify_gives_the_printer() -> None:
    found = parse_notify(notify(), "192.168.1.7")
    assert found == Found(
        protocol="bambu",
        name="Bench P1S",
        ip="192.168.1.50",
        port=None,
        source="ssdp",
        model="C12",
        serial="01S00C123456789",
        firmware_version="01.08.02.00",
    )
    assert found.url is None and len(found.id) == 16


def test_header_names_are_case_insensitive_and_bare_lf_is_accepted() -> None:
    data = notify(eol="\n").replace(b"DevName.bambu.com", b"devname.BAMBU.com")
    data = data.replace(b"NT:", b"nt:")
    found = parse_notify(data)
    assert found is not None and found.name == "Bench P1S"


def test_a_search_response_counts_and_the_sender_stands_in_for_a_bad_location() -> None:
    data = notify(Location="printer.lan").replace(b"NOTIFY * HTTP/1.1", b"HTTP/1.1 200 OK")
    data = data.replace(b"NT:", b"ST:")
    found = parse_notify(data, "10.0.0.9")
    assert found is not None and found.ip == "10.0.0.9"
    assert parse_notify(notify(Location="printer.lan"), None) is None


def test_malformed_or_foreign_datagrams_are_ignored() -> None:
    assert parse_notify(b"") is None
    assert parse_notify(b"\x00\xff\xfe garbage \x80") is None
    assert parse_notify(notify().replace(b"NOTIFY", b"M-SEARCH")) is None
    assert parse_notify(notify(NT="upnp:rootdevice")) is None
    assert parse_notify(notify(NT=None)) is None
    assert parse_notify(notify(USN=None)) is None
    assert parse_notify(notify(USN="../../etc/passwd")) is None
    assert parse_notify(notify(USN="has spaces in it")) is None
    assert parse_notify(notify() + b"x" * 5000) is None


def test_unprintable_names_fall_back_to_the_serial() -> None:
    found = parse_notify(notify(**{"DevName.bambu.com": "bad\x07name"}))
    assert found is not None and found.name == "01S00C123456789"


def test_merge_keeps_one_entry_and_prusalink_over_its_octoprint_alias() -> None:
    prusa = Found("prusalink", "MK4", "10.0.0.5", 80, "mdns")
    alias = Found("octoprint", "MK4", "10.0.0.5", 80, "mdns")
    octo = Found("octoprint", "Ender", "10.0.0.6", 5000, "mdns")
    bambu = Found("bambu", "P1S", "10.0.0.7", None, "ssdp", serial="S1")
    moved = Found("bambu", "P1S", "10.0.0.8", None, "ssdp", serial="S1")
    merged = merge([alias, octo, prusa, bambu, moved, octo])
    assert [(f.protocol, f.ip) for f in merged] == [
        ("bambu", "10.0.0.7"),
        ("octoprint", "10.0.0.6"),
        ("prusalink", "10.0.0.5"),
    ]
    assert prusa.url == "http://10.0.0.5" and octo.url == "http://10.0.0.6:5000"
    assert Found("moonraker", "K", "fe80::1", 7125, "mdns").url == "http://[fe80::1]:7125"


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_the_listener_hears_datagrams_for_its_window_only() -> None:
    port = _free_udp_port()
    listening = asyncio.ensure_future(listen(0.4, port))
    await asyncio.sleep(0.1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(b"\x00junk", ("127.0.0.1", port))
        sender.sendto(notify(), ("127.0.0.1", port))
    found = await listening
    assert [f.serial for f in found] == ["01S00C123456789"]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:  # closed: nothing hears
        sender.sendto(notify(), ("127.0.0.1", port))
    assert await listen(0.1, port) == []


def test_entries_from_a_remote_hub_are_checked_field_by_field() -> None:
    from apf_core.discovery.model import found_from_dict

    good = Found("moonraker", "Voron", "10.0.0.9", 7125, "mdns", hostname="voron.local")
    assert found_from_dict(good.as_dict()) == good
    bambu = Found("bambu", "P1S", "10.0.0.7", None, "ssdp", model="C12", serial="S1234")
    assert found_from_dict(bambu.as_dict()) == bambu
    for bad in (
        None,
        [],
        {**good.as_dict(), "protocol": "simulated"},
        {**good.as_dict(), "ip": "evil.example; rm"},
        {**good.as_dict(), "port": 70000},
        {**good.as_dict(), "port": "80"},
        {**good.as_dict(), "port": None},
        {**good.as_dict(), "source": "telnet"},
        {**bambu.as_dict(), "serial": None},
    ):
        assert found_from_dict(bad) is None, bad
    odd = found_from_dict({**good.as_dict(), "name": "x\x1b[31m", "hostname": 5.5})
    assert odd is not None and odd.name == "10.0.0.9" and odd.hostname is None
