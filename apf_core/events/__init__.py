"""Push channels for domain events: WebSocket hub, event log, webhooks, retention.

The outbox (``events`` table, written by :mod:`apf_core.domain.events`) is the
single source: every channel reads it by id, so nothing is lost across restarts.
"""
