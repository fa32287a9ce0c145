"""Binary G-code (.bgcode) files built from the libbgcode specification, for tests."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from .samples import make_png


def block(kind: int, params: bytes, data: bytes, *, deflate: bool = False, crc: bool = True) -> bytes:
    if deflate:
        stored = zlib.compress(data)
        header = struct.pack("<HHII", kind, 1, len(data), len(stored))
    else:
        stored = data
        header = struct.pack("<HHI", kind, 0, len(data))
    body = header + params + stored
    return body + (struct.pack("<I", zlib.crc32(body)) if crc else b"")


def ini(values: dict[str, str]) -> bytes:
    return "".join(f"{k}={v}\n" for k, v in values.items()).encode()


def prusa_bgcode(*, crc: bool = True, thumbnail: bytes | None = None) -> bytes:
    """A PrusaSlicer-like file: file/printer metadata, a PNG thumbnail, print and slicer
    metadata (deflated), then one G-code block."""
    png = thumbnail if thumbnail is not None else make_png(16, 12)
    parts = [
        struct.pack("<4sIH", b"GCDE", 1, 1 if crc else 0),
        block(0, b"\0\0", ini({"Producer": "PrusaSlicer 2.7.1"}), crc=crc),
        block(
            3,
            b"\0\0",
            ini(
                {
                    "printer_model": "MK4",
                    "filament_type": "PETG",
                    "nozzle_diameter": "0.4",
                    "extruder_colour": '""',
                }
            ),
            crc=crc,
        ),
        block(5, struct.pack("<HHH", 0, 16, 12), png, crc=crc),
        block(
            4,
            b"\0\0",
            ini(
                {
                    "filament used [mm]": "1234.50",
                    "filament used [g]": "3.72",
                    "estimated printing time (normal mode)": "1h 2m 3s",
                }
            ),
            deflate=True,
            crc=crc,
        ),
        block(2, b"\0\0", ini({"layer_height": "0.2", "print_settings_id": "0.20mm SPEED"}), deflate=True, crc=crc),
        block(1, b"\0\0", b"G28\nG1 X10 Y10\n", crc=crc),
    ]
    return b"".join(parts)


def write_bgcode(path: Path, **options: object) -> Path:
    path.write_bytes(prusa_bgcode(**options))  # type: ignore[arg-type]
    return path
