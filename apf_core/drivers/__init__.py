"""Printer protocol drivers behind one interface (:mod:`apf_core.drivers.base`)."""

from __future__ import annotations

import importlib

from .base import ConnectionConfig, PrinterDriver

#: protocol name (as stored on the printer) -> module under apf_core.drivers
PROTOCOL_MODULES = {
    "simulated": "simulator",
    "octoprint": "octoprint",
    "moonraker": "moonraker",
    "bambu": "bambu",
    "prusalink": "prusalink",
}


def create_driver(config: ConnectionConfig) -> PrinterDriver:
    """Build the driver for ``config.protocol``; each module exposes ``DRIVER``."""
    module_name = PROTOCOL_MODULES.get(config.protocol)
    if module_name is None:
        raise ValueError(f"unknown protocol: {config.protocol}")
    module = importlib.import_module(f"{__name__}.{module_name}")
    driver_cls: type[PrinterDriver] = module.DRIVER
    return driver_cls(config)
