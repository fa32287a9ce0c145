"""Printer commands from a follower process, run by the leader (PostgreSQL NOTIFY).

A follower has no drivers: its ``farm.control`` is a :class:`CommandRelay`. A command
goes to the leader as a NOTIFY on the farm's ``command`` channel; the leader answers
on the follower's own channel, first ``accepted`` and then the result, which the
follower raises as the same control error the leader's driver gave. No answer within
:data:`ACCEPT_SECONDS` means no process leads right now: ``HubOffline``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import text

from ..domain.control import (
    CapabilityMissing,
    CommandAck,
    ControlError,
    HubCommandFailed,
    HubOffline,
    PrinterCommand,
)
from ..drivers.manager import command_timeout

if TYPE_CHECKING:
    from ..farm import Farm

_LOGGER = logging.getLogger(__name__)

ACCEPT_SECONDS = 3.0
#: PostgreSQL refuses NOTIFY payloads of 8000 bytes and more
MAX_PAYLOAD = 7900
_ERRORS: dict[str, type[ControlError]] = {
    "HubOffline": HubOffline,
    "HubCommandFailed": HubCommandFailed,
    "CapabilityMissing": CapabilityMissing,
}


async def notify(farm: Farm, channel: str, payload: dict[str, Any]) -> None:
    body = orjson.dumps(payload).decode()
    if len(body.encode()) > MAX_PAYLOAD:
        raise HubCommandFailed("The command is too large to pass to the leading process")
    async with farm.db.begin() as conn:
        await conn.execute(text("SELECT pg_notify(:c, :p)"), {"c": channel, "p": body})


class CommandRelay:
    """``farm.control`` of a follower; also serves relayed commands while leading."""

    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self.command_channel = farm.db.channel("command")
        self.reply_channel = farm.db.channel("reply_" + uuid.uuid4().hex[:12])
        self._accepted: dict[str, asyncio.Future[None]] = {}
        self._results: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        #: whether this process hears the leader's answers now (its LISTEN connection is up)
        self.ready: Callable[[], bool] = lambda: True

    # --- follower side ---------------------------------------------------------
    def is_online(self, printer_id: str) -> bool:
        """What the leader last published (the live mirror)."""
        live = self.farm.live.get(printer_id)
        return live is not None and live.online

    async def execute(
        self, printer_id: str, command: PrinterCommand, *, timeout: float = 30.0
    ) -> CommandAck:
        if not self.ready():
            raise HubOffline(
                "This server process is reconnecting to the database; try again shortly"
            )
        request = uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        accepted = self._accepted[request] = loop.create_future()
        result = self._results[request] = loop.create_future()
        message = {
            "request": request,
            "reply": self.reply_channel,
            "printer_id": printer_id,
            "action": command.action,
            "params": command.params,
            "command_id": command.command_id,
            "timeout": timeout,
        }
        try:
            await notify(self.farm, self.command_channel, message)
            try:
                await asyncio.wait_for(accepted, ACCEPT_SECONDS)
            except TimeoutError:
                raise HubOffline(
                    "No server process is connected to the printers right now; try again shortly"
                ) from None
            answer = await asyncio.wait_for(result, command_timeout(command, timeout) + 5.0)
        except TimeoutError:
            raise HubCommandFailed(
                f"The leading server did not report the result of '{command.action}' in time"
            ) from None
        finally:
            self._accepted.pop(request, None)
            self._results.pop(request, None)
        if answer.get("error"):
            error = _ERRORS.get(answer["error"], HubCommandFailed)
            raise error(str(answer.get("message") or ""), code=answer.get("code"))
        return CommandAck(command.command_id)

    def on_reply(self, payload: str) -> None:
        answer = orjson.loads(payload)
        request = answer.get("request")
        waiting = self._accepted.get(request) if answer.get("accepted") else None
        if waiting is not None and not waiting.done():
            waiting.set_result(None)
            return
        result = self._results.get(request)
        if result is not None and not result.done():
            accepted = self._accepted.get(request)
            if accepted is not None and not accepted.done():
                accepted.set_result(None)
            result.set_result(answer)

    # --- leader side -------------------------------------------------------------
    def on_command(self, payload: str) -> None:
        if self.farm.control is self:  # following: the leader answers
            return
        task = asyncio.get_running_loop().create_task(self._serve(orjson.loads(payload)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, message: dict[str, Any]) -> None:
        reply, request = str(message["reply"]), message["request"]
        try:
            await notify(self.farm, reply, {"request": request, "accepted": True})
            command = PrinterCommand(
                str(message["action"]), dict(message["params"]), str(message["command_id"])
            )
            answer: dict[str, Any] = {"request": request}
            try:
                await self.farm.control.execute(
                    str(message["printer_id"]), command, timeout=float(message["timeout"])
                )
            except ControlError as err:
                answer.update(error=type(err).__name__, message=str(err), code=err.code)
            await notify(self.farm, reply, answer)
        except Exception:
            _LOGGER.exception("could not serve a relayed printer command")

    async def stop(self) -> None:
        for task in tuple(self._tasks):
            task.cancel()
        futures: list[asyncio.Future[Any]] = [*self._accepted.values(), *self._results.values()]
        for future in futures:
            if not future.done():
                future.cancel()
