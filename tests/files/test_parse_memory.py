"""Hostile 3MF files are parsed in bounded memory (RSS of a fresh interpreter).

The 135 MB entries are generated here (about 2 MB on disk each); issue 11's
file of this shape took the server from 389 MB to 2,455 MB RSS.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from apf_core.files import parse_metadata
from apf_core.files import threemf_parts as parts
from apf_core.files.model import MetadataError

from .bombs import SHAPES, measure_parse, write_model_bomb

GOAL_MB = 100


@pytest.mark.parametrize("shape", ["empty elements", "metadata flood", "deep nesting"])
def test_135mb_model_entry_stays_under_100mb_rss(tmp_path: Path, shape: str) -> None:
    path = write_model_bomb(tmp_path / "bomb.3mf", 135, SHAPES[shape])
    info = zipfile.ZipFile(path).getinfo("3D/3dmodel.model")
    assert info.file_size >= 135 * 10**6
    assert info.file_size // info.compress_size < parts.MAX_RATIO  # passes the ratio guard
    result = measure_parse(path, "bomb.3mf", str(Path(__file__).parents[2]))
    print(shape, result)
    assert float(result["growth_mb"]) < GOAL_MB, result
    if shape == "deep nesting":
        assert "deeper than" in str(result["outcome"])


def test_entry_refused_by_inflated_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parts, "MAX_ENTRY_BYTES", 10 << 20)
    path = write_model_bomb(tmp_path / "big.3mf", 12, SHAPES["metadata flood"])
    with pytest.raises(MetadataError, match="inflates to"):
        parse_metadata(path, "big.3mf")


def test_long_tag_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tag.3mf"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("3D/3dmodel.model", b'<model><metadata name="' + b"a" * (6 << 20) + b'"/></model>')
    with pytest.raises(MetadataError, match="XML tag over"):
        parse_metadata(path, "tag.3mf")


def test_config_with_too_many_elements_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cfg.3mf"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("3D/3dmodel.model", b"<model><resources/><build/></model>")
        archive.writestr("Metadata/slice_info.config", b"<config>" + b"<x/>" * 200_000 + b"</config>")
    with pytest.raises(MetadataError, match="XML elements"):
        parse_metadata(path, "cfg.3mf")


def test_huge_plate_number_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plate.3mf"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("Metadata/plate_99999999999999999999.gcode", b"; x\nG28\n")
    with pytest.raises(MetadataError, match="plate number"):
        parse_metadata(path, "plate.3mf")
