"""Where the real printer peers are installed: outside the checkout, shared by every clone.

Mirrors ``scripts/_cache.sh``: ``APF_PEERS_DIR``, else ``<APF_CACHE>/peers``, else
``/var/cache/apf/peers`` for root and ``~/.cache/apf/peers`` for everyone else.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def cache_dir() -> Path:
    if os.environ.get("APF_CACHE"):
        return Path(os.environ["APF_CACHE"])
    if os.getuid() == 0:
        return Path("/var/cache/apf")
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "apf"


def peers_dir() -> Path:
    return Path(os.environ.get("APF_PEERS_DIR") or cache_dir() / "peers")


def sdkgen_dir() -> Path:
    """The SDK generator's venv (``scripts/sdkgen.sh``): ``APF_SDKGEN_DIR``, else ``<cache>/sdkgen``."""
    return Path(os.environ.get("APF_SDKGEN_DIR") or cache_dir() / "sdkgen")
