"""Zip-bomb guard of the 3MF / compressed-AMF readers: refused before inflating."""

from __future__ import annotations

import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from apf_core.files import MetadataError, parse_metadata
from apf_core.files.threemf_parts import MAX_EXPANDED_BYTES, check_expansion


def text_bomb(path: Path, megabytes: int, entry: str = "Metadata/plate_1.gcode") -> Path:
    line = b"G1 X10 Y10 E0.1\n" * 4096
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open(entry, "w", force_zip64=True) as stream:
            for _ in range((megabytes << 20) // len(line)):
                stream.write(line)
        archive.writestr("3D/3dmodel.model", b"<model/>")
    return path


def test_highly_compressed_plate_gcode_is_refused_fast(tmp_path: Path) -> None:
    bomb = text_bomb(tmp_path / "bomb.3mf", 64)
    assert bomb.stat().st_size < 1 << 20
    started = time.monotonic()
    with pytest.raises(MetadataError, match="zip bomb"):
        parse_metadata(bomb, "bomb.3mf")
    assert time.monotonic() - started < 1.0, "refused from the directory, nothing inflated"


def test_compressed_amf_bomb_is_refused(tmp_path: Path) -> None:
    bomb = text_bomb(tmp_path / "bomb.amf", 64, entry="model.amf")
    with pytest.raises(MetadataError, match="zip bomb"):
        parse_metadata(bomb, "bomb.amf")


@dataclass
class _Info:
    filename: str
    file_size: int
    compress_size: int


class _Archive:
    def __init__(self, infos: list[_Info]) -> None:
        self.infos = infos

    def infolist(self) -> list[_Info]:
        return self.infos


def test_total_declared_size_is_capped() -> None:
    third = MAX_EXPANDED_BYTES // 3 + 1
    archive: Any = _Archive([_Info(f"e{n}", third, third // 4) for n in range(3)])
    with pytest.raises(MetadataError, match="zip bomb"):
        check_expansion(archive, "3MF file")


def test_ordinary_ratios_pass() -> None:
    archive: Any = _Archive([_Info("Metadata/plate_1.gcode", 300 << 20, 75 << 20),
                             _Info("Metadata/plate_1.png", 40_000, 39_000),
                             _Info("tiny.config", 5000, 10)])  # small entries never trip
    check_expansion(archive, "3MF file")
