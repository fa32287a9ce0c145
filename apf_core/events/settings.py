"""Event-system options, from ``APF_*`` environment variables (read at start-up)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..net.ssrf import SsrfPolicy


def _float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if not value:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _list(name: str) -> tuple[str, ...]:
    value = os.environ.get(name, "")
    return tuple(p.strip() for p in value.split(",") if p.strip())


@dataclass(frozen=True, slots=True)
class EventSettings:
    #: coalesced telemetry (printer.status, job.progress) older than this is deleted
    retention_hours: float = 24.0
    retention_interval_seconds: float = 600.0
    #: finished webhook deliveries older than this are deleted
    delivery_retention_days: float = 7.0
    #: events a WebSocket client may have queued before it is dropped as too slow
    ws_queue_size: int = 1000
    ws_auth_timeout_seconds: float = 10.0
    ws_heartbeat_seconds: float = 30.0
    #: open streams in total (handshakes included) and per API key
    ws_max_streams: int = 500
    ws_max_streams_per_key: int = 20
    #: an open stream re-checks its key this often (revoked/expired keys are cut off)
    ws_key_check_seconds: float = 2.0
    #: the hub also reads the outbox this often (events written by other processes)
    poll_interval_seconds: float = 1.0
    webhook_timeout_seconds: float = 10.0
    webhook_retry_base_seconds: float = 5.0
    webhook_retry_max_seconds: float = 3600.0
    #: consecutive failed attempts after which a webhook is disabled
    webhook_max_failures: int = 10
    webhook_concurrency: int = 8
    webhook_allow_loopback: bool = True
    webhook_allow_private: bool = True
    webhook_blocked_networks: tuple[str, ...] = ()
    webhook_allowed_networks: tuple[str, ...] = ()

    def webhook_policy(self) -> SsrfPolicy:
        return SsrfPolicy.build(
            allow_loopback=self.webhook_allow_loopback,
            allow_private=self.webhook_allow_private,
            blocked=self.webhook_blocked_networks,
            allowed=self.webhook_allowed_networks,
        )

    @classmethod
    def from_env(cls) -> EventSettings:
        return cls(
            retention_hours=_float("APF_EVENT_RETENTION_HOURS", 24.0),
            retention_interval_seconds=_float("APF_EVENT_RETENTION_INTERVAL", 600.0),
            delivery_retention_days=_float("APF_WEBHOOK_DELIVERY_RETENTION_DAYS", 7.0),
            ws_queue_size=_int("APF_EVENT_WS_QUEUE", 1000),
            ws_auth_timeout_seconds=_float("APF_EVENT_WS_AUTH_TIMEOUT", 10.0),
            ws_heartbeat_seconds=_float("APF_EVENT_WS_HEARTBEAT", 30.0),
            ws_max_streams=_int("APF_EVENT_WS_MAX", 500),
            ws_max_streams_per_key=_int("APF_EVENT_WS_MAX_PER_KEY", 20),
            ws_key_check_seconds=_float("APF_EVENT_WS_KEY_CHECK", 2.0),
            poll_interval_seconds=_float("APF_EVENT_POLL_INTERVAL", 1.0),
            webhook_timeout_seconds=_float("APF_WEBHOOK_TIMEOUT", 10.0),
            webhook_retry_base_seconds=_float("APF_WEBHOOK_RETRY_BASE", 5.0),
            webhook_retry_max_seconds=_float("APF_WEBHOOK_RETRY_MAX", 3600.0),
            webhook_max_failures=_int("APF_WEBHOOK_MAX_FAILURES", 10),
            webhook_concurrency=_int("APF_WEBHOOK_CONCURRENCY", 8),
            webhook_allow_loopback=_bool("APF_WEBHOOK_ALLOW_LOOPBACK", True),
            webhook_allow_private=_bool("APF_WEBHOOK_ALLOW_PRIVATE", True),
            webhook_blocked_networks=_list("APF_WEBHOOK_BLOCKED_NETWORKS"),
            webhook_allowed_networks=_list("APF_WEBHOOK_ALLOWED_NETWORKS"),
        )
