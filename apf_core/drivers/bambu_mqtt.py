"""Bambu Lab MQTT transport: the paho client and its thread, publishing with sequence ids,
and pairing replies with the commands they answer.

paho-mqtt runs its network loop in its own thread; every callback is handed to the asyncio
loop with ``call_soon_threadsafe``, so the driver's handlers run on the loop only.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import ssl
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from .base import DriverError, PrinterUnreachable

_LOGGER = logging.getLogger(__name__)

AUTH_REASONS = {"not authorized", "bad user name or password"}


def tls_options(options: Mapping[str, Any]) -> tuple[bool, str | None]:
    """``verify_tls`` and ``ca_cert``; verifying needs the CA (no system store holds it)."""
    verify_tls = bool(options.get("verify_tls", False))
    ca_cert: str | None = options.get("ca_cert") or None
    if verify_tls and not ca_cert:
        raise ValueError(
            "bambu: verify_tls needs ca_cert (printers present a certificate signed by "
            "Bambu Lab's own CA, which no system store holds)"
        )
    return verify_tls, ca_cert


def tls_context(verify_tls: bool, ca_cert: str | None, tls12: bool = False) -> ssl.SSLContext:
    """The client context for MQTT, FTPS and the camera (blocking when it loads ``ca_cert``)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # the certificate's CN is the serial, not the host
    if tls12:
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    if verify_tls and ca_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        context.verify_flags &= ~ssl.VERIFY_X509_STRICT  # Bambu CA lacks key usage
        context.load_verify_locations(cafile=ca_cert)
    else:
        context.verify_mode = ssl.CERT_NONE
    return context


class MqttLink:
    """One printer's MQTT session. The handlers run on the event loop:
    ``on_failed(reason)``, ``on_connected()``, ``on_disconnected(reason)``, ``on_report(payload)``.
    """

    def __init__(
        self,
        serial: str,
        access_code: str,
        *,
        on_failed: Callable[[str], None],
        on_connected: Callable[[], None],
        on_disconnected: Callable[[str], None],
        on_report: Callable[[Mapping[str, Any]], None],
    ) -> None:
        self._serial = serial
        self._access_code = access_code
        self._handlers = (on_failed, on_connected, on_disconnected, on_report)
        self._report_topic = f"device/{serial}/report"
        self._request_topic = f"device/{serial}/request"
        self._sequence = itertools.count(int(time.time()) % 100_000)
        self._pending: dict[str, tuple[str, asyncio.Future[dict[str, Any]]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: mqtt.Client | None = None

    @property
    def started(self) -> bool:
        return self._client is not None

    def start(self, host: str, port: int, context: ssl.SSLContext) -> None:
        """Connect in the background; paho reconnects with a 1 to 30 s backoff."""
        self._loop = asyncio.get_running_loop()
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"apf-{uuid.uuid4()}",
            clean_session=True,
            protocol=mqtt.MQTTv311,
        )
        client.username_pw_set("bblp", self._access_code)
        client.tls_set_context(context)
        client.tls_insecure_set(True)  # the certificate names the serial, never the host
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client
        client.connect_async(host, port, keepalive=30)
        client.loop_start()

    async def stop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.on_connect = client.on_disconnect = client.on_message = None
            client.disconnect()
            await asyncio.to_thread(client.loop_stop)
        self.fail_pending(PrinterUnreachable("driver closed"))

    # --- paho callbacks (paho's thread) ------------------------------------------
    def _call_in_loop(self, callback: Any, *args: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # loop shutting down
                loop.call_soon_threadsafe(callback, *args)

    def _on_connect(
        self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            text = str(reason).lower()
            if text in AUTH_REASONS:
                client.disconnect()  # stop retrying with a wrong access code
            self._call_in_loop(self._handlers[0], text)
            return
        client.subscribe(self._report_topic, qos=1)
        self._call_in_loop(self._handlers[1])

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        self._call_in_loop(self._handlers[2], str(reason))

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            payload = json.loads(message.payload)
        except ValueError:
            _LOGGER.debug("bambu %s: ignoring malformed report", self._serial)
            return
        if isinstance(payload, dict):
            self._call_in_loop(self._handlers[3], payload)

    # --- requests (event loop) ------------------------------------------------------
    def publish(self, kind: str, command: str, **fields: Any) -> str:
        """Send ``{kind: {sequence_id, command, **fields}}``; returns the sequence id."""
        client = self._client
        if client is None:
            raise PrinterUnreachable("not connected to the printer")
        sequence = str(next(self._sequence))
        body = {"sequence_id": sequence, "command": command, **fields}
        info = client.publish(self._request_topic, json.dumps({kind: body}), qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise PrinterUnreachable(f"publish failed: {mqtt.error_string(info.rc)}")
        return sequence

    async def reply(self, sequence: str, command: str, timeout: float) -> dict[str, Any] | None:
        """The reply to the message just published as ``sequence``; None if none came in time."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[sequence] = (command, future)
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            return None
        finally:
            self._pending.pop(sequence, None)

    def take_reply(self, body: Mapping[str, Any]) -> bool:
        """Hand a report section to the command waiting for it; False when none is."""
        sequence = str(body.get("sequence_id", ""))
        waiting = self._pending.get(sequence)
        if waiting is None or waiting[0] != body.get("command"):
            return False
        del self._pending[sequence]
        if not waiting[1].done():
            waiting[1].set_result(dict(body))
        return True

    def fail_pending(self, error: DriverError) -> None:
        pending, self._pending = self._pending, {}
        for _command, future in pending.values():
            if not future.done():
                future.set_exception(error)
