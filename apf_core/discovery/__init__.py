"""LAN discovery: printers that announce themselves (mDNS for OctoPrint, Moonraker and
PrusaLink; SSDP for Bambu Lab). :func:`apf_core.discovery.scan.scan` runs one bounded scan."""
