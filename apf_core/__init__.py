"""APF core: the print-farm domain, storage, drivers and REST API."""

__version__ = "0.1.0"
