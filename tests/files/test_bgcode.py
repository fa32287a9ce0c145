"""Binary G-code: metadata and thumbnail from the blocks, malformed files refused."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from apf_core.files import MetadataError, file_kind, parse_metadata

from .bgcode_samples import block, prusa_bgcode, write_bgcode
from .samples import make_png


def test_prusaslicer_bgcode_metadata_and_thumbnail(tmp_path: Path) -> None:
    png = make_png(16, 12, seed=3)
    meta = parse_metadata(write_bgcode(tmp_path / "cube.bgcode", thumbnail=png), "cube.bgcode")
    assert file_kind("cube.bgcode") == "bgcode"
    assert meta.print_time_seconds == 3723
    assert meta.filament_weight_grams == pytest.approx(3.72)
    assert meta.filament_length_meters == pytest.approx(1.2345)
    assert meta.filament_type == "PETG"
    assert meta.printer_model_id == "MK4"
    assert meta.nozzle_diameter == pytest.approx(0.4)
    assert meta.layer_height == pytest.approx(0.2)
    assert meta.default_print_profile == "0.20mm SPEED"
    assert (meta.slicer, meta.slicer_version) == ("PrusaSlicer", "2.7.1")
    assert meta.thumbnail == png and meta.thumbnail_mime == "image/png"


def test_without_checksums(tmp_path: Path) -> None:
    meta = parse_metadata(write_bgcode(tmp_path / "a.bgcode", crc=False), "a.bgcode")
    assert meta.printer_model_id == "MK4"


@pytest.mark.parametrize(
    ("mangle", "why"),
    [
        (lambda raw: b"GCDF" + raw[4:], "GCDE"),
        (lambda raw: raw[:4] + struct.pack("<I", 7) + raw[8:], "version 7"),
        (lambda raw: raw[:40], "truncated"),
        (lambda raw: raw[:30] + bytes([raw[30] ^ 0xFF]) + raw[31:], "checksum"),
    ],
)
def test_malformed_files_are_refused(tmp_path: Path, mangle: object, why: str) -> None:
    path = tmp_path / "bad.bgcode"
    path.write_bytes(mangle(prusa_bgcode()))  # type: ignore[operator]
    with pytest.raises(MetadataError, match=why):
        parse_metadata(path, "bad.bgcode")


def test_thumbnail_that_is_not_its_format_is_refused(tmp_path: Path) -> None:
    raw = struct.pack("<4sIH", b"GCDE", 1, 0) + block(5, struct.pack("<HHH", 0, 4, 4), b"nope", crc=False)
    path = tmp_path / "t.bgcode"
    path.write_bytes(raw)
    with pytest.raises(MetadataError, match="image type"):
        parse_metadata(path, "t.bgcode")


def test_oversized_block_is_refused_without_reading_it(tmp_path: Path) -> None:
    raw = struct.pack("<4sIH", b"GCDE", 1, 0) + struct.pack("<HHI", 3, 0, 1 << 30) + b"\0\0"
    path = tmp_path / "big.bgcode"
    path.write_bytes(raw)
    with pytest.raises(MetadataError, match="too large"):
        parse_metadata(path, "big.bgcode")
