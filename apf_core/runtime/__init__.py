"""Runtime modules attached to a :class:`~apf_core.farm.Farm` at start-up.

Each module here defines ``async def start(farm) -> stop | None``; they run in
name order (prefix them ``p10_``, ``p20_`` ...) and stop in reverse order.
"""
