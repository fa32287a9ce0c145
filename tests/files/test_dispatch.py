"""parse_metadata's dispatch by file name, and the result type."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from apf_core.files import (
    SUPPORTED_EXTENSIONS,
    FileMetadata,
    MetadataError,
    content_type_for,
    file_kind,
    parse_metadata,
)

from . import samples

FILE_RESOURCE_METADATA = {
    "print_time_seconds",
    "filament_weight_grams",
    "filament_length_meters",
    "filament_type",
    "printer_model_id",
    "nozzle_diameter",
    "layer_count",
    "curr_bed_type",
    "default_print_profile",
    "object_count",
}


@pytest.mark.parametrize(
    ("filename", "kind"),
    [
        ("Cube.gcode.3mf", "3mf"),
        ("project.3MF", "3mf"),
        ("benchy.gcode", "gcode"),
        ("part.STL", "stl"),
        ("scene.obj", "obj"),
        ("model.amf", "amf"),
        ("archive.zip", None),
        ("MK4_part.BGCODE", "bgcode"),
        ("firmware.bin", None),
        ("noextension", None),
        ("trailingdot.", None),
    ],
)
def test_file_kind(filename: str, kind: str | None) -> None:
    assert file_kind(filename) == kind


def test_supported_extensions() -> None:
    assert set(SUPPORTED_EXTENSIONS) == {"3mf", "gcode", "bgcode", "stl", "obj", "amf"}


def test_content_types() -> None:
    assert content_type_for("a.gcode") == "text/x.gcode"
    assert content_type_for("a.gcode.3mf").startswith("application/vnd.ms-package.3dmanufacturing")
    assert content_type_for("a.stl") == "model/stl"
    assert content_type_for("a.bin") == "application/octet-stream"


def test_unsupported_extension_is_a_metadata_error(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("G28\n")

    with pytest.raises(MetadataError, match="unsupported file type"):
        parse_metadata(path, "x.txt")


def test_the_user_filename_picks_the_parser(tmp_path: Path) -> None:
    """Uploads live under opaque temp names; the user's filename decides."""
    path = samples.write_bambu_3mf(tmp_path / "upload.tmp")

    assert parse_metadata(path, "Cube.gcode.3mf").gcode_entry == "Metadata/plate_1.gcode"
    with pytest.raises(MetadataError):
        parse_metadata(path, "Cube.gcode")  # a zip is not text G-code


def test_missing_file_is_a_metadata_error(tmp_path: Path) -> None:
    with pytest.raises(MetadataError, match="could not read"):
        parse_metadata(tmp_path / "gone.gcode", "gone.gcode")


def test_metadata_error_is_a_value_error() -> None:
    assert issubclass(MetadataError, ValueError)


def test_file_metadata_is_frozen_and_exposes_the_file_resource_fields() -> None:
    meta = FileMetadata(layer_count=3, thumbnail=b"\x89PNG")

    with pytest.raises(dataclasses.FrozenInstanceError):
        meta.layer_count = 4  # type: ignore[misc]
    assert set(meta.api_fields()) == FILE_RESOURCE_METADATA
    assert meta.has_thumbnail
    assert "thumbnail" not in meta.as_dict()
    assert meta.as_dict()["has_thumbnail"] is True
