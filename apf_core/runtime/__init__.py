"""Runtime parts attached to a :class:`~apf_core.farm.Farm` at start-up.

Each module here defines ``async def start(farm) -> stop | None``; the order they
start in (and stop in, reversed) is the explicit list in :mod:`apf_core.wiring`.
"""
