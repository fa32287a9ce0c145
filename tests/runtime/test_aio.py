"""cancel_and_wait stops background tasks without swallowing the caller's own cancellation;
SingleFlight shares one load among concurrent readers."""

from __future__ import annotations

import asyncio
import time

import pytest

from apf_core.aio import SingleFlight, cancel_and_wait
from apf_core.domain.live import PrinterRowCache


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


async def test_a_lost_cancellation_is_requested_again() -> None:
    """aiohttp can turn a cancel that races its request timeout into TimeoutError and take
    the request back (aio-libs/aiohttp#5979); a driver loop then retries. Stopping it must
    not wait for ever."""
    attempts = 0

    async def driver_loop() -> None:
        nonlocal attempts
        while True:
            attempts += 1
            try:
                await asyncio.sleep(10)  # a request
            except asyncio.CancelledError:
                if attempts > 1:
                    raise
                task = asyncio.current_task()
                assert task is not None
                task.uncancel()  # what aiohttp's timeout does when both fire at once
            await asyncio.sleep(0)  # and the loop retries

    task = asyncio.create_task(driver_loop())
    await asyncio.sleep(0)
    async with asyncio.timeout(2):
        await cancel_and_wait(task)
    assert task.cancelled()
    assert attempts == 2


async def test_cleanup_after_a_cancellation_is_not_interrupted() -> None:
    finished = False

    async def worker() -> None:
        nonlocal finished
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0.35)  # longer than the re-check: still cancelling, left alone
            finished = True

    task = asyncio.create_task(worker())
    await asyncio.sleep(0)
    await cancel_and_wait(task)
    assert finished


async def test_single_flight_shares_one_load_among_concurrent_callers() -> None:
    calls = 0
    gate = asyncio.Event()

    async def load() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        return calls

    flight: SingleFlight[str, int] = SingleFlight()
    waiting = [asyncio.ensure_future(flight.run("k", load)) for _ in range(5)]
    other = asyncio.ensure_future(flight.run("other", load))
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*waiting) == [1] * 5
    assert await other == 2
    assert await flight.run("k", load) == 3  # a finished load is not reused


async def test_single_flight_caller_cancelled_does_not_cancel_the_load() -> None:
    gate = asyncio.Event()

    async def load() -> str:
        await gate.wait()
        return "row"

    flight: SingleFlight[str, str] = SingleFlight()
    first = asyncio.ensure_future(flight.run("k", load))
    second = asyncio.ensure_future(flight.run("k", load))
    await asyncio.sleep(0)
    first.cancel()
    gate.set()
    assert await second == "row"


async def test_printer_row_load_overtaken_by_an_invalidation_is_not_kept() -> None:
    cache = PrinterRowCache()
    gate = asyncio.Event()
    reads: list[str] = []

    async def fetch(printer_id: str) -> dict[str, str]:
        reads.append(printer_id)
        label = f"read {len(reads)}"
        await gate.wait()
        return {"status": label}

    stale = asyncio.ensure_future(cache.load("p1", fetch))
    await asyncio.sleep(0)
    cache.invalidate("p1")  # the printer changed while the first read ran
    fresh = asyncio.ensure_future(cache.load("p1", fetch))  # does not join the stale read
    await asyncio.sleep(0)
    gate.set()
    assert (await stale)["status"] == "read 1"
    assert (await fresh)["status"] == "read 2"
    assert cache.get("p1", time.monotonic()) == {"status": "read 2"}
