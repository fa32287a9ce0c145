"""cancel_and_wait: stops background tasks without swallowing the caller's own cancellation."""

from __future__ import annotations

import asyncio

import pytest

from apf_core.aio import cancel_and_wait


async def test_cancels_and_waits_for_every_task() -> None:
    stopped: list[str] = []

    async def worker(name: str) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0.01)  # cleanup that takes a moment
            stopped.append(name)

    tasks = [asyncio.create_task(worker(n)) for n in "ab"]
    await asyncio.sleep(0)
    await cancel_and_wait(tasks[0], None, tasks[1])
    assert sorted(stopped) == ["a", "b"]
    assert all(task.cancelled() for task in tasks)


async def test_an_error_while_stopping_is_not_hidden() -> None:
    async def worker() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            raise RuntimeError("cleanup failed")

    task = asyncio.create_task(worker())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="cleanup failed"):
        await cancel_and_wait(task)


async def test_the_callers_cancellation_goes_through() -> None:
    async def stubborn() -> None:
        while True:  # ignores one cancellation, then takes a while to finish
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                await asyncio.sleep(0.2)
                return

    inner = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    caller = asyncio.create_task(cancel_and_wait(inner))
    await asyncio.sleep(0.05)
    caller.cancel()  # the caller itself is being stopped while it waits
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert caller.cancelled()
