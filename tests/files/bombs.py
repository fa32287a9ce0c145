"""Hostile 3MF/G-code archives for the memory tests and bench/parse_memory.py.

Each is small on disk and inflates to about ``megabytes`` MB at a ratio under
the 200x zip-bomb guard (random hex keeps deflate honest), like the 857 KB file
of issue 11 that inflated to 135 MB.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

MB = 1 << 20
NS = "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"


def _noise(count: int = 4) -> str:
    return os.urandom(count).hex()


def _metadata_flood(target: int) -> Iterator[str]:
    """Everything the old scanner kept: <metadata> children of <model>, then objects."""
    yield f'<?xml version="1.0" encoding="UTF-8"?>\n<model unit="millimeter" xmlns="{NS}">\n'
    yield '<metadata name="Application">BambuStudio-01.09.00.70</metadata>\n'
    written, i = 0, 0
    filler = "x" * 1100
    while written < target // 2:
        line = f'<metadata name="k{i}">{_noise(1)}{filler}</metadata>\n'
        written += len(line)
        i += 1
        yield line
    yield "<resources>\n"
    while written < target:
        line = (
            f'<object id="{i}" type="model"><mesh><vertices>'
            f'<vertex x="{_noise(1)}" y="1{filler[:300]}" z="2"/></vertices></mesh></object>\n'
        )
        written += len(line)
        i += 1
        yield line
    yield '</resources>\n<build><item objectid="1"/></build>\n</model>\n'


def _empty_elements(target: int) -> Iterator[str]:
    """Millions of tiny <metadata/> children of <model>: each became a kept Element."""
    yield f'<?xml version="1.0" encoding="UTF-8"?>\n<model unit="millimeter" xmlns="{NS}">\n'
    written = 0
    while written < target:
        line = f'<metadata name="{_noise(1)}"/>' + '<metadata name="k"/>' * 7 + "\n"
        written += len(line)
        yield line
    yield '<resources/><build><item objectid="1"/></build>\n</model>\n'


def _deep_nesting(target: int) -> Iterator[str]:
    yield f'<?xml version="1.0"?>\n<model xmlns="{NS}"><resources>'
    depth, written = 0, 0
    while written < target // 2:
        chunk = f'<object id="{_noise(1)}">' + "<components>" * 50
        written += len(chunk)
        depth += 1
        yield chunk
    for _ in range(depth):
        yield "</components>" * 50 + "</object>"
    yield "</resources></model>"


def write_model_bomb(
    path: Path, megabytes: int = 135, shape: Callable[[int], Iterator[str]] = _metadata_flood
) -> Path:
    """A 3MF whose 3D/3dmodel.model inflates to about ``megabytes`` MB."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("3D/3dmodel.model", "w", force_zip64=True) as entry:
            buffer: list[str] = []
            size = 0
            for piece in shape(megabytes * MB):
                buffer.append(piece)
                size += len(piece)
                if size > MB:
                    entry.write("".join(buffer).encode())
                    buffer, size = [], 0
            entry.write("".join(buffer).encode())
    return path


SHAPES = {
    "metadata flood": _metadata_flood,
    "empty elements": _empty_elements,
    "deep nesting": _deep_nesting,
}


def write_gcode_bomb(path: Path, megabytes: int = 135) -> Path:
    """A .gcode.3mf whose plate G-code is one enormous comment line (no newline)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("Metadata/plate_1.gcode", "w", force_zip64=True) as entry:
            entry.write(b"; HEADER_BLOCK_START\n; total layer number: 3\nG28\n;")
            for _ in range(megabytes):
                entry.write("".join(_noise(1) + "x" * 250 for _ in range(MB // 252)).encode())
    return path


_CHILD = """
import json, sys, time
from pathlib import Path
from apf_core.files import parse_metadata
from apf_core.files.model import MetadataError

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) / 1024
base = status("VmRSS")
started = time.monotonic()
try:
    parse_metadata(Path(sys.argv[1]), sys.argv[2])
    outcome = "parsed"
except MetadataError as err:
    outcome = "refused: " + str(err)[:80]
print(json.dumps({"growth_mb": status("VmHWM") - base, "seconds": time.monotonic() - started,
                  "outcome": outcome}))
"""


def measure_parse(path: Path, name: str, pythonpath: str = ".") -> dict[str, object]:
    """Parse ``path`` in a fresh interpreter; peak RSS growth over the post-import baseline."""
    import json
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": pythonpath}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), name],
        capture_output=True, text=True, env=env, timeout=300, check=True, cwd=pythonpath,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))
