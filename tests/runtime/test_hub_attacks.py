"""The attacks of issue 11 run by an anonymous client on a real Mosquitto: each one fails.

The broker allows anonymous clients (the worst case: no ACL, no TLS), so the
attacker sees every topic and may publish anywhere.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from apf_core.hub import protocol
from apf_core.hub.agent import HubAgent
from apf_core.hub.crypto import LinkKeys, seal
from tests.runtime.test_hubs import agents, create_hub, hub_printer, start_agent, wait_hub

__all__ = ["agents"]  # the fixture, re-exported for pytest
SECRET = "printer-pass-" + uuid.uuid4().hex


async def until(condition: Any, what: str, limit: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


class Attacker:
    """An anonymous MQTT client that records everything under ``apf/v1/hub/#``."""

    def __init__(self, broker: str) -> None:
        host, port, _tls = protocol.broker_address(broker)
        self.seen: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"evil-{uuid.uuid4()}")
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *_: c.subscribe("apf/v1/hub/#", qos=1)
        self.client.connect(host, port)
        self.client.loop_start()

    def _on_message(self, _c: Any, _u: Any, message: paho.MQTTMessage) -> None:
        with self._lock:
            self.seen.append((message.topic, bytes(message.payload)))

    def messages(self, suffix: str = "") -> list[tuple[str, bytes]]:
        with self._lock:
            return [(t, p) for t, p in self.seen if t.endswith(suffix)]

    def count(self, topic_id: str, suffix: str) -> int:
        """Messages of one hub (other hubs may share the broker) ending in ``suffix``."""
        return sum(f"/{topic_id}/" in t for t, _ in self.messages(suffix))

    async def quiet(self, seconds: float = 0.5, limit: float = 10.0) -> None:
        """Wait until the server has sent nothing for ``seconds`` (set-up traffic is over; the
        hub's state frames go on)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while loop.time() < deadline:
            seen = sum("/down/" in t for t, _ in self.messages())
            await asyncio.sleep(seconds)
            if sum("/down/" in t for t, _ in self.messages()) == seen:
                return

    def publish(self, topic: str, payload: bytes | dict[str, Any]) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.client.publish(topic, body, qos=1).wait_for_publish(2)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
async def attacker(broker_url: str) -> Any:
    spy = Attacker(broker_url)
    await asyncio.sleep(0.3)  # subscribed before anything happens
    yield spy
    spy.close()


async def linked(farm: Any, broker: str, agents: list[HubAgent]) -> tuple[dict, str, HubAgent]:
    hub = await create_hub(farm, broker)
    printer = await hub_printer(farm, hub["id"], password=SECRET, api_key=SECRET)
    agent = await start_agent(agents, hub["token"], broker)
    await farm.wait_for(lambda: farm.online(printer), what="remote printer online")
    return hub, printer, agent


def plain_and_guessed(topic: str, body: dict[str, Any], token_hash: str) -> list[bytes]:
    """What an attacker can send: the old plain JSON, and a seal keyed from what the DB holds."""
    guessed = LinkKeys.from_token(token_hash)
    data = json.dumps(body).encode()
    return [data, seal(guessed.up, topic, b"x" * 16, 1, data), seal(guessed.down, topic, b"x" * 16, 1, data)]


async def test_sniffer_reads_no_secret(farm, broker_url, agents, attacker) -> None:
    hub, _printer, agent = await linked(farm, broker_url, agents)
    await asyncio.sleep(0.5)
    traffic = attacker.messages()
    assert any(t.endswith("/down/config") for t, _ in traffic), "the config was not sent"
    assert any(t.endswith("/up/state") for t, _ in traffic)
    for topic, payload in traffic:
        assert SECRET.encode() not in payload, topic
        assert hub["token"].encode() not in payload
        assert b"printer_id" not in payload and b"nozzle" not in payload  # sealed, not JSON
    hashed = protocol.token_hash(hub["token"])
    assert all(hashed[:32] not in t for t, _ in traffic)  # topic id not derived from the hash
    assert agent.key != hashed[:32]


async def test_forged_hello_gets_nothing(farm, broker_url, agents, attacker) -> None:
    hub, _printer, agent = await linked(farm, broker_url, agents)
    hashed = protocol.token_hash(hub["token"])
    await attacker.quiet()  # the hub's own handshake and config are done
    before = attacker.count(agent.key, "/down/config")
    welcomes = attacker.count(agent.key, "/down/welcome")
    for topic_id in (agent.key, hashed[:32]):
        name = protocol.topic(topic_id, "up", "hello")
        for payload in plain_and_guessed(name, {"session": "evil", "nonce": "n"}, hashed):
            attacker.publish(name, payload)
    await asyncio.sleep(1.0)
    assert attacker.count(agent.key, "/down/config") == before
    assert attacker.count(agent.key, "/down/welcome") == welcomes  # not even answered
    assert all(SECRET.encode() not in p for _, p in attacker.messages())


async def test_forged_state_is_ignored(farm, broker_url, agents, attacker) -> None:
    hub, printer, agent = await linked(farm, broker_url, agents)
    hashed = protocol.token_hash(hub["token"])
    forged = {"printer_id": printer, "state": {"status": "printing", "nozzle_temp": 666.0}}
    name = protocol.topic(agent.key, "up", "state")
    for _ in range(3):
        for payload in plain_and_guessed(name, forged, hashed):
            attacker.publish(name, payload)
    await asyncio.sleep(1.0)
    status = await farm.status(printer)
    assert status["nozzle_temp"] != 666.0
    assert status["status"] != "printing"


async def test_forged_command_is_ignored(farm, broker_url, agents, attacker) -> None:
    hub, printer, agent = await linked(farm, broker_url, agents)
    hashed = protocol.token_hash(hub["token"])
    name = protocol.topic(agent.key, "down", "command")
    commands = [
        {"command_id": "evil-1", "printer_id": printer, "action": "temperature",
         "params": {"heater": "nozzle", "target": 285}, "timeout": 5},
        {"command_id": "evil-2", "printer_id": printer, "action": "gcode",
         "params": {"script": "M104 S285"}, "timeout": 5},
    ]
    for body in commands:
        for payload in plain_and_guessed(name, body, hashed):
            attacker.publish(name, payload)
    await asyncio.sleep(1.0)
    assert agent.drivers[printer].state.nozzle_target != 285
    assert not attacker.count(agent.key, "/up/ack")  # the hub ran nothing, so acknowledged nothing


async def test_captured_messages_cannot_be_replayed(farm, broker_url, agents, attacker, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="apf_core.hub")
    _hub, printer, agent = await linked(farm, broker_url, agents)
    body = {"heater": "nozzle", "target": 200}
    reply = await farm.api.post(f"/printers/{printer}/temperature", json=body, key="control")
    assert reply.status == 200, reply.body
    captured = attacker.messages("/down/command")[-1]
    states = attacker.messages("/up/state")[-3:]
    reply = await farm.api.post(
        f"/printers/{printer}/temperature", json={"heater": "nozzle", "target": 0}, key="control"
    )
    assert reply.status == 200, reply.body
    # the server has the hub's ack when the reply comes; the attacker may get its copy later
    await until(lambda: attacker.count(agent.key, "/up/ack") >= 2, "both acks seen on the broker")
    acks = attacker.count(agent.key, "/up/ack")
    attacker.publish(*captured)
    for state in states:
        attacker.publish(*state)
    await asyncio.sleep(1.0)
    assert agent.drivers[printer].state.nozzle_target == 0  # the old command did not run again
    assert attacker.count(agent.key, "/up/ack") == acks
    assert "replayed or stale message" in caplog.text  # the server dropped the old states


async def test_a_fake_server_cannot_configure_a_hub(broker_url, agents, attacker) -> None:
    """Mutual verification: the hub waits for a welcome only the real server can seal."""
    token = protocol.new_token()
    agent = await start_agent(agents, token, broker_url)
    await asyncio.sleep(0.5)
    hello = attacker.messages(f"{agent.key}/up/hello")
    assert hello, "the hub did not say hello"
    guessed = LinkKeys.from_token(protocol.token_hash(token))
    for part, body in (
        ("welcome", {"nonce": "x", "server_nonce": "y"}),
        ("config", {"hub_id": "h", "printers": [{"id": "p", "protocol": "simulated"}]}),
    ):
        name = protocol.topic(agent.key, "down", part)
        attacker.publish(name, json.dumps(body).encode())
        attacker.publish(name, seal(guessed.down, name, b"s" * 16, 1, json.dumps(body).encode()))
    await asyncio.sleep(0.8)
    assert not agent.channel.established
    assert not agent.drivers
    assert not attacker.messages(f"{agent.key}/up/ready")


async def test_rotate_token_cuts_the_old_hub_off(farm, broker_url, agents) -> None:
    hub, printer, old = await linked(farm, broker_url, agents)
    rotated = await farm.api.post(f"/hubs/{hub['id']}/rotate-token", key="write")
    assert rotated.status == 200, rotated.body
    assert rotated.data["token"] != hub["token"]
    await wait_hub(farm, hub["id"], False)
    assert (await farm.api.post("/hubs/nope/rotate-token", key="write")).code == "HUB_NOT_FOUND"
    assert (await farm.api.post(f"/hubs/{hub['id']}/rotate-token", key="read")).status == 403
    await start_agent(agents, rotated.data["token"], broker_url)
    await wait_hub(farm, hub["id"], True)
    await farm.wait_for(lambda: farm.online(printer), what="printer back with the new token")
    assert not old.channel.established or old.key != agents[-1].key


async def test_delete_hub(farm, broker_url) -> None:
    hub = await create_hub(farm, broker_url)
    printer = await hub_printer(farm, hub["id"])
    refused = await farm.api.delete(f"/hubs/{hub['id']}", key="write")
    assert refused.status == 409
    assert refused.code == "HUB_IN_USE"
    assert (await farm.api.delete(f"/printers/{printer}", key="write")).status == 200
    assert (await farm.api.delete(f"/hubs/{hub['id']}", key="read")).status == 403
    deleted = await farm.api.delete(f"/hubs/{hub['id']}", key="write")
    assert deleted.data == {"id": hub["id"], "deleted": True}
    assert (await farm.api.get(f"/hubs/{hub['id']}", key="read")).code == "HUB_NOT_FOUND"
    embedded = [h for h in (await farm.api.get("/hubs", key="read")).data if h["id"] != hub["id"]]
    if embedded:
        assert (await farm.api.delete(f"/hubs/{embedded[0]['id']}", key="write")).code in (
            "HUB_EMBEDDED", "HUB_IN_USE"
        )
