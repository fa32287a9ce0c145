"""Per-hub broker users and ACLs (``apf hubs broker-config``) on a real Mosquitto.

The broker runs with ``allow_anonymous false`` and the password and ACL files the
command writes; the hub logs in with the credentials it derives from its token.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import signal
import stat
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from apf_core.hub import protocol
from apf_core.hub.agent import HubAgent
from apf_core.hub.broker_config import (
    ACL_FILE,
    CONF_FILE,
    PASSWORD_FILE,
    BrokerUser,
    hub_users,
    server_user,
    write_config,
)
from apf_core.hub.crypto import LinkKeys
from tests.runtime.broker import MOSQUITTO, Broker
from tests.runtime.conftest import Farm
from tests.runtime.test_hubs import agents, create_hub, start_agent, wait_hub

__all__ = ["agents"]  # the fixture, re-exported for pytest

SERVER_URL_LOGIN = "apf-server:s3rver-pw"


pytestmark = pytest.mark.skipif(
    not Path(MOSQUITTO).exists(), reason="needs /usr/sbin/mosquitto to run a broker with ACLs"
)


class SecureBroker(Broker):
    """A private Mosquitto that only knows the users of ``conf_dir`` (no anonymous)."""

    def __init__(self, work: Path, conf_dir: Path) -> None:
        super().__init__(work)
        snippet = (conf_dir / CONF_FILE).read_text()
        # started by root, Mosquitto would read the files as the user "mosquitto", who
        # cannot enter pytest's 0700 temp dirs (`--owner` is tested on its own)
        user = "user root\n" if os.geteuid() == 0 else ""
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\npersistence false\n{user}{snippet}"
        )

    def reload(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGHUP)


class Probe:
    """A bare MQTT 3.1.1 client, as the hub's or anybody's credentials would give."""

    def __init__(self, port: int, username: str | None = None, password: str | None = None):
        self.port = port
        self.client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.connack: Any = None
        self.accepted = False
        self.granted: dict[int, list[int]] = {}
        self.received: list[str] = []
        self._event = threading.Event()
        self.client.on_connect = self._connected
        self.client.on_subscribe = self._subscribed
        self.client.on_message = lambda _c, _u, m: self.received.append(m.topic)

    def _connected(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.connack = reason
        self._event.set()

    def _subscribed(self, _c: Any, _u: Any, mid: int, reasons: Any, _p: Any) -> None:
        self.granted[mid] = [int(r.value) for r in reasons]
        self._event.set()

    def _wait(self) -> None:
        assert self._event.wait(5), "no answer from the broker"
        self._event.clear()

    async def connect(self) -> bool:
        """True when the broker accepted the CONNECT."""
        self.client.connect("127.0.0.1", self.port, keepalive=10)
        self.client.loop_start()
        await asyncio.to_thread(self._wait)
        self.accepted = not self.connack.is_failure
        return self.accepted

    async def subscribe(self, pattern: str) -> int:
        """The granted QoS (or failure code) the broker's SUBACK returns."""
        _rc, mid = self.client.subscribe(pattern, qos=1)
        await asyncio.to_thread(self._wait)
        return self.granted[mid][0]

    async def publish(self, name: str) -> None:
        info = self.client.publish(name, b"x", qos=1)
        await asyncio.to_thread(info.wait_for_publish, 5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


async def probe(port: int, username: str | None = None, password: str | None = None) -> Probe:
    client = Probe(port, username, password)
    await client.connect()
    return client


async def refused(port: int, username: str | None, password: str | None) -> bool:
    client = await probe(port, username, password)
    client.close()
    return not client.accepted


async def wait_accepted(port: int, username: str, password: str) -> None:
    """After a SIGHUP, until Mosquitto has re-read its password file."""
    for _ in range(100):
        if not await refused(port, username, password):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{username} never accepted")


async def only_allowed_arrive(
    farm: Farm, sender: Probe, receiver: Probe, denied: list[str], allowed: str
) -> None:
    """``sender`` publishes on ``denied`` then ``allowed`` (QoS 1, in order): only the
    last reaches ``receiver``, so the others were dropped, not just late."""
    for name in (*denied, allowed):
        await sender.publish(name)
    await farm.wait_for(lambda: allowed in receiver.received, what=f"{allowed} delivered")
    assert not set(denied) & set(receiver.received), receiver.received


@pytest.fixture
async def secure(tmp_path: Path) -> Any:
    if shutil.which("mosquitto_passwd") is None:
        pytest.skip("needs mosquitto_passwd to hash the password file the way Mosquitto does")
    conf_dir = tmp_path / "broker-conf"
    server = server_user(f"mqtt://{SERVER_URL_LOGIN}@broker", None, None)
    write_config(conf_dir, server, [])  # the server only: no hub exists yet
    broker = SecureBroker(tmp_path, conf_dir)
    await broker.start()
    yield broker, conf_dir, server
    await broker.stop()


async def test_each_hub_is_confined_to_its_own_topics(
    farm: Farm, agents: list[HubAgent], secure: Any
) -> None:
    broker, conf_dir, server = secure
    login_url = f"mqtt://{SERVER_URL_LOGIN}@127.0.0.1:{broker.port}"
    hub_a = await create_hub(farm, login_url, "A")
    hub_b = await create_hub(farm, login_url, "B")
    link = farm.api.farm.hub_link.link
    await farm.wait_for(lambda: link.connected, what="the server logged in")

    scan = await hub_users(farm.api.farm.db, farm.api.farm.settings.data_dir)
    written = write_config(conf_dir, server, scan.users)
    assert written.hubs == 2 and "mosquitto_passwd" in written.hasher
    a, b = LinkKeys.from_token(hub_a["token"]), LinkKeys.from_token(hub_b["token"])
    for name in (PASSWORD_FILE, ACL_FILE):
        assert stat.S_IMODE((conf_dir / name).stat().st_mode) == 0o600
        text = (conf_dir / name).read_text()
        for secret in (hub_a["token"], a.broker_password, b.broker_password, "s3rver-pw"):
            assert secret not in text  # hashed, never in clear
    assert f"user {a.broker_username}\n" in (conf_dir / ACL_FILE).read_text()
    broker.reload()
    await wait_accepted(broker.port, a.broker_username, a.broker_password)

    # the hub logs in with its derived user (no credentials given) and shakes hands
    agent = await start_agent(agents, hub_a["token"], broker.url)
    assert agent.broker_username == a.broker_username
    await wait_hub(farm, hub_a["id"], True)

    assert await refused(broker.port, None, None)  # anonymous
    assert await refused(broker.port, a.broker_username, b.broker_password)  # wrong password
    assert await refused(broker.port, "apfhub-" + "0" * 32, a.broker_password)  # unknown user

    spy = await probe(broker.port, server.username, server.password)
    assert await spy.subscribe(f"{protocol.PREFIX}/#") == 1
    intruder = await probe(broker.port, a.broker_username, a.broker_password)
    try:
        # Mosquitto 2.0 grants every SUBACK (QoS 1, on MQTT 3.1.1 as on 5: its ACL
        # file is not checked at SUBSCRIBE) and then withholds what the user may not read
        assert await intruder.subscribe("#") == 1
        withheld = [
            protocol.topic(b.topic_id, "down", "command"),
            protocol.topic(b.topic_id, "up", "state"),
            protocol.topic(a.topic_id, "up", "state"),  # its own up: write only
        ]
        readable = protocol.topic(a.topic_id, "down", "probe")
        await only_allowed_arrive(farm, spy, intruder, withheld, readable)
        # publishes outside "write own up/#" are acknowledged but silently dropped
        spy.received.clear()
        forged = [
            protocol.topic(b.topic_id, "up", "state"),
            protocol.topic(b.topic_id, "down", "command"),
            protocol.topic(a.topic_id, "down", "command"),
        ]
        allowed = protocol.topic(a.topic_id, "up", "probe")
        await only_allowed_arrive(farm, intruder, spy, forged, allowed)
    finally:
        intruder.close()
        spy.close()

    # a token rotation changes the password: the old one works until regenerated
    rotated = (await farm.api.post(f"/hubs/{hub_a['id']}/rotate-token", key="write")).data
    new = LinkKeys.from_token(rotated["token"])
    assert new.broker_password != a.broker_password
    scan = await hub_users(farm.api.farm.db, farm.api.farm.settings.data_dir)
    write_config(conf_dir, server, scan.users)
    broker.reload()
    await wait_accepted(broker.port, new.broker_username, new.broker_password)
    assert await refused(broker.port, a.broker_username, a.broker_password)
    mqtt = agent._mqtt
    assert mqtt is not None
    await farm.wait_for(lambda: not mqtt.connected, what="the reload drops the old login")
    assert link.connected  # the server's login did not change: still connected


async def test_passwords_hashed_without_mosquitto_passwd(tmp_path: Path) -> None:
    """The fallback hash (PBKDF2-SHA512, ``$7$``) is one Mosquitto accepts."""
    keys = LinkKeys.from_token(protocol.new_token())
    hub = BrokerUser(keys.broker_username, keys.broker_password, "hub-1", keys.topic_id)
    server = BrokerUser("apf-server", "pw:with spaces & colons")
    written = write_config(tmp_path / "conf", server, [hub], use_mosquitto_passwd=False)
    assert "mosquitto_passwd" not in written.hasher
    assert (tmp_path / "conf" / PASSWORD_FILE).read_text().count("$7$101$") == 2
    broker = SecureBroker(tmp_path, tmp_path / "conf")
    await broker.start()
    try:
        assert not await refused(broker.port, hub.username, hub.password)
        assert not await refused(broker.port, server.username, server.password)
        assert await refused(broker.port, hub.username, server.password)
    finally:
        await broker.stop()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give files to another user")
def test_owner_gets_the_directory_and_files(tmp_path: Path) -> None:
    try:
        entry = pwd.getpwnam("mosquitto")
    except KeyError:
        pytest.skip("no user mosquitto")
    server = BrokerUser("apf-server", "pw")
    write_config(tmp_path / "conf", server, [], use_mosquitto_passwd=False, owner="mosquitto")
    for path in (tmp_path / "conf", tmp_path / "conf" / PASSWORD_FILE):
        assert (path.stat().st_uid, path.stat().st_gid) == (entry.pw_uid, entry.pw_gid)
