"""The embedded REST server (aiohttp), compatible with AutoPrintFarm public API v1."""
