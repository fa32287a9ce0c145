"""One bounded LAN scan: mDNS and SSDP side by side for the same window."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from . import mdns, ssdp
from .model import Found, merge


@dataclass(frozen=True, slots=True)
class ScanOptions:
    seconds: float = 5.0
    ssdp_port: int = ssdp.BAMBU_PORT
    #: mDNS interface addresses; empty: all
    interfaces: Sequence[str] = ()


async def scan(options: ScanOptions) -> list[Found]:
    """Every printer that announced itself within ``options.seconds``, one entry each."""
    found_mdns, found_ssdp = await asyncio.gather(
        mdns.browse(options.seconds, options.interfaces),
        ssdp.listen(options.seconds, options.ssdp_port),
    )
    return merge([*found_mdns, *found_ssdp])
