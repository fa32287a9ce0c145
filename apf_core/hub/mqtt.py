"""A small asyncio face on paho-mqtt: callbacks arrive on the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

_LOGGER = logging.getLogger(__name__)

MessageHandler = Callable[[str, bytes], None]


class AsyncMqtt:
    """One paho client in its network thread; handlers run on ``loop``.

    paho reconnects by itself (1 s doubling to 30 s); ``on_connect`` runs after
    every (re)connection so subscriptions and hellos are renewed.
    """

    def __init__(
        self,
        client_id: str,
        *,
        on_message: MessageHandler,
        on_connect: Callable[[], None] | None = None,
        on_disconnect: Callable[[], None] | None = None,
        will: tuple[str, bytes] | None = None,
        username: str | None = None,
        password: str | None = None,
        keepalive: int = 30,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._on_message = on_message
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self.keepalive = keepalive
        self.connected = False
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=paho.MQTTv311,
            clean_session=True,
        )
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        if username:
            self._client.username_pw_set(username, password)
        if will is not None:
            self._client.will_set(will[0], will[1], qos=1, retain=False)
        self._client.on_connect = self._connected
        self._client.on_disconnect = self._disconnected
        self._client.on_message = self._message

    def start(self, host: str, port: int, *, tls: bool = False) -> None:
        if tls:
            self._client.tls_set_context(ssl.create_default_context())
        self._client.connect_async(host, port, keepalive=self.keepalive)
        self._client.loop_start()

    async def stop(self, farewell: tuple[str, bytes] | None = None) -> None:
        if farewell is not None and self.connected:
            info = self._client.publish(farewell[0], farewell[1], qos=1)
            await asyncio.to_thread(info.wait_for_publish, 2.0)
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)

    def subscribe(self, pattern: str, qos: int = 1) -> None:
        self._client.subscribe(pattern, qos=qos)

    def publish(self, name: str, payload: bytes | dict[str, Any], qos: int = 1) -> bool:
        """Queue a message; False when not connected (nothing was sent)."""
        if not self.connected:
            return False
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        info = self._client.publish(name, body, qos=qos)
        return info.rc == paho.MQTT_ERR_SUCCESS

    # --- paho thread -> event loop --------------------------------------------------
    def _connected(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any = None) -> None:
        if getattr(reason, "is_failure", False):
            _LOGGER.warning("MQTT connection refused: %s", reason)
            return
        self._call(self._set_connected, True)

    def _disconnected(self, _c: Any, _u: Any, _f: Any, _reason: Any, _p: Any = None) -> None:
        self._call(self._set_connected, False)

    def _call(self, callback: Callable[..., None], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: we are shutting down
            self._loop.call_soon_threadsafe(callback, *args)

    def _set_connected(self, value: bool) -> None:
        self.connected = value
        callback = self._on_connect if value else self._on_disconnect
        if callback is not None:
            try:
                callback()
            except Exception:
                _LOGGER.exception("MQTT connection callback failed")

    def _message(self, _c: Any, _u: Any, message: paho.MQTTMessage) -> None:
        self._call(self._dispatch, message.topic, bytes(message.payload))

    def _dispatch(self, name: str, payload: bytes) -> None:
        try:
            self._on_message(name, payload)
        except Exception:
            _LOGGER.exception("MQTT message handler failed for %s", name)
