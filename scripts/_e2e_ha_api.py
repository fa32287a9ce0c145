"""Home Assistant's REST and websocket APIs as scripts/ha_e2e.py uses them."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable
from typing import Any

import aiohttp

DOMAIN = "autoprintfarm"


class HassApi:
    """Onboarding, the config flow, and a websocket that follows every state change."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url
        self.token = ""
        self.entry_id = ""
        self.states_now: dict[str, str] = {}
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ids = itertools.count(1)
        self._results: dict[int, asyncio.Future[Any]] = {}
        self._changed = asyncio.Condition()
        self._reader: asyncio.Task[None] | None = None

    async def _post(self, path: str, body: dict[str, Any], *, auth: bool = True) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if auth else {}
        async with self.session.post(f"{self.url}{path}", json=body, headers=headers) as resp:
            payload = await resp.json(content_type=None)
            if resp.status >= 400:
                raise RuntimeError(f"POST {path}: HTTP {resp.status} {payload}")
            return payload

    async def onboard(self) -> None:
        """The onboarding a new user clicks through, over REST."""
        client_id = f"{self.url}/"
        user = {"client_id": client_id, "name": "Owner", "username": "owner"}
        user |= {"password": "apf-e2e-password", "language": "en"}
        code = (await self._post("/api/onboarding/users", user, auth=False))["auth_code"]
        form = {"grant_type": "authorization_code", "code": code, "client_id": client_id}
        async with self.session.post(f"{self.url}/auth/token", data=form) as resp:
            self.token = (await resp.json())["access_token"]
        await self._post("/api/onboarding/core_config", {})
        await self._post("/api/onboarding/analytics", {})
        redirect = f"{self.url}/?auth_callback=1"
        await self._post(
            "/api/onboarding/integration", {"client_id": client_id, "redirect_uri": redirect}
        )

    async def add_integration(self, farm_url: str, api_key: str) -> None:
        """Settings → Add integration → AutoPrintFarm, over REST."""
        flow = await self._post(
            "/api/config/config_entries/flow", {"handler": DOMAIN, "show_advanced_options": False}
        )
        if flow.get("type") != "form":
            raise RuntimeError(f"the config flow did not show a form: {flow}")
        done = await self._post(
            f"/api/config/config_entries/flow/{flow['flow_id']}",
            {"url": farm_url, "api_key": api_key},
        )
        if done.get("type") != "create_entry":
            raise RuntimeError(f"the config flow did not create an entry: {done}")
        self.entry_id = done["result"]["entry_id"]

    # --- websocket ------------------------------------------------------------------

    async def connect_ws(self) -> None:
        self._ws = await self.session.ws_connect(f"{self.url}/api/websocket")
        await self._ws.receive_json()  # auth_required
        await self._ws.send_json({"type": "auth", "access_token": self.token})
        if (reply := await self._ws.receive_json())["type"] != "auth_ok":
            raise RuntimeError(f"websocket auth failed: {reply}")
        self._reader = asyncio.create_task(self._read())
        await self.command({"type": "subscribe_events", "event_type": "state_changed"})
        for state in await self.command({"type": "get_states"}):
            self.states_now.setdefault(state["entity_id"], state["state"])

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._ws is not None:
            await self._ws.close()

    async def _read(self) -> None:
        assert self._ws is not None
        async for message in self._ws:
            data = message.json()
            if data.get("type") == "result" and data["id"] in self._results:
                future = self._results.pop(data["id"])
                if data.get("success"):
                    future.set_result(data.get("result"))
                else:
                    future.set_exception(RuntimeError(str(data.get("error"))))
            elif data.get("type") == "event":
                event = data["event"]["data"]
                new = event.get("new_state")
                async with self._changed:
                    self.states_now[event["entity_id"]] = new["state"] if new else "removed"
                    self._changed.notify_all()

    async def command(self, message: dict[str, Any], timeout: float = 30.0) -> Any:
        assert self._ws is not None
        message_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._results[message_id] = future
        await self._ws.send_json({**message, "id": message_id})
        return await asyncio.wait_for(future, timeout)

    # --- registry and states --------------------------------------------------------

    async def devices(self) -> list[dict[str, Any]]:
        devices = await self.command({"type": "config/device_registry/list"})
        return [d for d in devices if self.entry_id in d["config_entries"]]

    async def _entities(self) -> list[dict[str, Any]]:
        entries = await self.command({"type": "config/entity_registry/list"})
        return [e for e in entries if e["platform"] == DOMAIN and not e.get("disabled_by")]

    async def entity_for(self, printer_id: str, key: str, domain: str) -> str:
        suffix = f"_{printer_id}_{key}"
        for entry in await self._entities():
            if entry["unique_id"].endswith(suffix) and entry["entity_id"].startswith(domain):
                return str(entry["entity_id"])
        raise RuntimeError(f"no entity with unique_id ending {suffix}")

    async def states(self) -> dict[str, str]:
        ids = [e["entity_id"] for e in await self._entities()]
        return {entity_id: self.states_now.get(entity_id, "missing") for entity_id in ids}

    async def wait_settled(self, timeout: float = 30.0) -> dict[str, str]:
        """The integration's states once every enabled entity has one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = await self.states()
            if states and "missing" not in states.values():
                return states
            await asyncio.sleep(0.5)
        return await self.states()

    async def wait_all(
        self, entity_ids: list[str], wanted: Callable[[str], bool], timeout: float
    ) -> float | None:
        """Seconds until every entity's state satisfies ``wanted`` (None: timed out)."""
        start = time.monotonic()

        def done() -> bool:
            return all(wanted(self.states_now.get(e, "missing")) for e in entity_ids)

        try:
            async with self._changed:
                await asyncio.wait_for(self._changed.wait_for(done), timeout)
        except TimeoutError:
            return None
        return time.monotonic() - start

    async def wait_state(
        self, entity_id: str, wanted: str, *, timeout: float, fail: bool = True
    ) -> bool:
        took = await self.wait_all([entity_id], lambda s: s == wanted, timeout)
        if took is None and fail:
            now = self.states_now.get(entity_id)
            raise RuntimeError(f"{entity_id} stayed {now!r}, wanted {wanted!r}")
        return took is not None

    async def press_and_time(self, button: str, entity_id: str, wanted: str) -> float:
        """Seconds from pressing ``button`` until ``entity_id`` shows ``wanted``."""
        pressed = self.command(
            {
                "type": "call_service",
                "domain": "button",
                "service": "press",
                "target": {"entity_id": button},
            }
        )
        waiting = self.wait_all([entity_id], lambda s: s == wanted, 10.0)
        _result, took = await asyncio.gather(pressed, waiting)
        if took is None:
            raise RuntimeError(f"{entity_id} did not become {wanted!r} after {button}")
        return took

    async def say(self, text: str) -> str:
        """What Assist answers (POST /api/conversation/process)."""
        reply = await self._post("/api/conversation/process", {"text": text, "language": "en"})
        return str(reply["response"]["speech"]["plain"]["speech"])
