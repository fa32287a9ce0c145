"""Pure pieces: type patterns, signatures, the SSRF policy and the guarded resolver."""

from __future__ import annotations

import ipaddress
import socket

import aiohttp
import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from apf_core.events.patterns import TypeFilter, matches, parse_patterns, valid_pattern
from apf_core.events.signatures import new_secret, sign, verify
from apf_core.net.session import GuardedConnector
from apf_core.net.ssrf import BlockedAddress, SsrfPolicy, check_url, split_url


@pytest.mark.parametrize(
    ("patterns", "event_type", "expected"),
    [
        (["*"], "job.started", True),
        (["job.*"], "job.started", True),
        (["job.*"], "jobs.started", False),
        (["job.*"], "job", False),
        (["job.started"], "job.started", True),
        (["job.started"], "job.started2", False),
        (["printer.*", "job.completed"], "job.completed", True),
        (["printer.*", "job.completed"], "job.failed", False),
        (["a.b.*"], "a.b.c", True),
        (["a.b.*"], "a.bc", False),
    ],
)
def test_matching(patterns: list[str], event_type: str, expected: bool) -> None:
    assert matches(patterns, event_type) is expected
    assert TypeFilter(patterns)(event_type) is expected


@pytest.mark.parametrize(
    "value", ["job.**", "*.started", "Job.*", "job .*", "job.", ".job", "job*", "", "x" * 65]
)
def test_invalid_patterns(value: str) -> None:
    assert not valid_pattern(value)


def test_parse_patterns() -> None:
    assert parse_patterns(None) == ["*"]
    assert parse_patterns("job.*, printer.online,,job.*") == ["job.*", "printer.online"]
    assert parse_patterns([]) == ["*"]
    with pytest.raises(ValueError, match="invalid event type pattern"):
        parse_patterns(["job.*", "bad pattern"])
    with pytest.raises(ValueError, match="list of strings"):
        parse_patterns({"job": 1})
    with pytest.raises(ValueError, match="strings"):
        parse_patterns([1])
    with pytest.raises(ValueError, match="at most"):
        parse_patterns([f"t{i}" for i in range(51)])


def test_signatures() -> None:
    secret = new_secret()
    body = b'{"id":1}'
    header = sign(secret, body)
    assert header.startswith("sha256=")
    assert len(header) == 7 + 64
    assert verify(secret, body, header)
    assert not verify(secret, body, None)
    assert not verify(secret, body, "sha256=" + "0" * 64)
    assert not verify(new_secret(), body, header)
    # a known vector (HMAC-SHA256 of "hello" keyed with "key")
    assert sign("key", b"hello") == (
        "sha256=9307b3b915efb5171ff14d8cb55fbcc798c6c0ef1456d66ded1a6aa723a58b7b"
    )


@pytest.mark.parametrize(
    ("address", "blocked_by_default"),
    [
        ("127.0.0.1", False), ("::1", False), ("192.168.1.2", False), ("10.1.2.3", False),
        ("172.20.0.1", False), ("100.64.0.1", False), ("8.8.8.8", False),
        ("2001:4860:4860::8888", False), ("fd12::1", False),
        ("169.254.169.254", True), ("169.254.0.1", True), ("fe80::1", True),
        ("224.0.0.251", True), ("ff02::fb", True), ("0.0.0.0", True), ("::", True),
        ("0.1.2.3", True), ("255.255.255.255", True), ("240.0.0.1", True),
        ("100.100.100.200", True), ("fd00:ec2::254", True), ("::ffff:169.254.169.254", True),
    ],
)
def test_default_policy(address: str, blocked_by_default: bool) -> None:
    reason = SsrfPolicy().refusal(ipaddress.ip_address(address))
    assert (reason is not None) is blocked_by_default, reason


def test_configurable_policy() -> None:
    strict = SsrfPolicy(allow_loopback=False, allow_private=False)
    assert strict.refusal(ipaddress.ip_address("127.0.0.1")) == "loopback address"
    assert strict.refusal(ipaddress.ip_address("192.168.1.2")) == "private network address"
    assert strict.refusal(ipaddress.ip_address("8.8.8.8")) is None
    custom = SsrfPolicy(
        blocked=(ipaddress.ip_network("192.168.5.0/24"),),
        allowed=(ipaddress.ip_network("169.254.10.0/24"),),
    )
    assert custom.refusal(ipaddress.ip_address("192.168.5.9")) == "blocked network"
    assert custom.refusal(ipaddress.ip_address("192.168.6.9")) is None
    assert custom.refusal(ipaddress.ip_address("169.254.10.7")) is None  # allow-list wins


def test_split_url() -> None:
    assert split_url("https://ha.local:8123/api") == ("https", "ha.local", 8123)
    assert split_url("http://[::1]/x") == ("http", "::1", 80)
    for bad in ("ftp://x/", "gopher://x", "http:///path", "http://x:notaport/"):
        with pytest.raises(ValueError):
            split_url(bad)


async def test_check_url_resolves_names() -> None:
    assert await check_url("http://localhost:8123/", SsrfPolicy()) is None
    with pytest.raises(BlockedAddress):
        await check_url("http://localhost:8123/", SsrfPolicy(allow_loopback=False))
    warning = await check_url("http://no-such-host.invalid/", SsrfPolicy())
    assert warning is not None
    assert "does not resolve" in warning


class FakeResolver(AbstractResolver):
    """Resolves every name to fixed addresses (a DNS-rebinding attacker)."""

    def __init__(self, addresses: list[str]) -> None:
        self.addresses = addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(hostname=host, host=a, port=port, family=family, proto=0, flags=0)
            for a in self.addresses
        ]

    async def close(self) -> None:
        return None


async def test_guarded_connector_checks_what_is_connected_to() -> None:
    """DNS rebinding: the name resolves to a metadata address at delivery."""
    session = aiohttp.ClientSession(
        connector=GuardedConnector(SsrfPolicy(), resolver=FakeResolver(["169.254.169.254"]))
    )
    async with session:
        with pytest.raises(BlockedAddress, match="metadata"):
            await session.get("http://evil.example/latest/meta-data/")
        with pytest.raises(BlockedAddress, match="metadata host"):
            await session.get("http://metadata.google.internal/")


async def test_a_connection_reset_as_it_opens_is_a_connection_error(monkeypatch) -> None:
    """A restarting printer can accept and reset a connection before its peer address is
    read: that is a connect failure a driver retries (it was a bare OSError that ended the
    driver's loop)."""
    closed = []

    class ResetSocket:
        def getpeername(self) -> tuple[str, int]:
            raise OSError(107, "Transport endpoint is not connected")

    class ResetTransport:
        def get_extra_info(self, name: str, default: object = None) -> object:
            return ResetSocket() if name == "socket" else None

        def close(self) -> None:
            closed.append(True)

    async def opened(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return ResetTransport(), None

    monkeypatch.setattr(aiohttp.TCPConnector, "_wrap_create_connection", opened)
    connector = GuardedConnector(SsrfPolicy(), resolver=FakeResolver(["10.0.0.7"]))
    async with aiohttp.ClientSession(connector=connector) as session:
        with pytest.raises(aiohttp.ClientConnectorError, match="not connected"):
            await session.get("http://printer.lan/api/version")
    assert closed == [True]


async def test_delivery_to_a_rebound_name_is_refused(api, monkeypatch) -> None:
    """The name resolved to a LAN address when the webhook was created and to the metadata
    address when it is delivered: the delivery is refused and logged."""
    reply = await api.post("/webhooks", json={"url": "http://localhost:9/x"}, key="write")
    hook = reply.data
    worker = api.farm.webhook_worker
    await worker.close()
    monkeypatch.setattr(
        "apf_core.events.delivery.guarded_session",
        lambda policy: aiohttp.ClientSession(
            connector=GuardedConnector(policy, resolver=FakeResolver(["169.254.169.254"]))
        ),
    )
    result = (await api.post(f"/webhooks/{hook['id']}/test", key="write")).data
    assert result["delivered"] is False
    assert result["error"].startswith("Refused")
    assert "metadata" in result["error"]
