"""3MF metadata: Bambu sliced projects, plain models, malformed archives."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from apf_core.files import PNG_MIME, MetadataError, parse_metadata

from . import samples


def parse(path: Path):
    return parse_metadata(path, path.name)


def test_bambu_gcode_3mf_fields(tmp_path: Path) -> None:
    meta = parse(samples.write_bambu_3mf(tmp_path / "Cube_PLA.gcode.3mf"))

    assert meta.print_time_seconds == 5450  # slice_info prediction
    assert meta.filament_weight_grams == 17.32
    assert meta.filament_length_meters == pytest.approx(5.45)
    assert meta.filament_type == "PLA"
    assert meta.printer_model_id == "C12"  # slice_info code, not the display name
    assert meta.printer_model == "Bambu Lab P1S"
    assert meta.nozzle_diameter == 0.4
    assert meta.layer_count == samples.BAMBU_LAYERS  # plate G-code header
    assert meta.curr_bed_type == "Textured PEI Plate"
    assert meta.default_print_profile == "0.20mm Standard @BBL X1C"
    assert meta.object_count == 2  # <object> entries of the plate
    assert meta.slicer == "BambuStudio"
    assert meta.slicer_version == "02.03.00.70"
    assert meta.layer_height == 0.2
    assert meta.plate_index == 1
    assert meta.gcode_entry == "Metadata/plate_1.gcode"
    assert meta.thumbnail == samples.make_png(64, 64, seed=1)  # Metadata/plate_1.png
    assert meta.thumbnail_mime == PNG_MIME


def test_bambu_two_filaments(tmp_path: Path) -> None:
    meta = parse(samples.write_bambu_3mf(tmp_path / "mm.gcode.3mf", two_filaments=True))

    assert meta.filament_type == "PLA;PETG"
    assert meta.filament_types == ("PLA", "PETG")
    assert meta.filament_weight_grams == 17.32
    assert meta.filament_length_meters == pytest.approx(5.45)


def test_first_plate_with_gcode_is_used(tmp_path: Path) -> None:
    path = samples.write_bambu_3mf(tmp_path / "two.gcode.3mf", plates=(1, 2), gcode_plates=(2,))

    meta = parse(path)

    assert meta.plate_index == 2
    assert meta.gcode_entry == "Metadata/plate_2.gcode"
    assert meta.thumbnail == samples.make_png(64, 64, seed=2)


def test_layers_are_counted_when_the_plate_header_has_no_total(tmp_path: Path) -> None:
    path = samples.write_bambu_3mf(tmp_path / "old.gcode.3mf", gcode_layers=33, header_layers=None)

    assert parse(path).layer_count == 33


def test_missing_md5_entry_is_fine(tmp_path: Path) -> None:
    meta = parse(samples.write_bambu_3mf(tmp_path / "nomd5.gcode.3mf", md5=None))

    assert meta.layer_count == samples.BAMBU_LAYERS


def test_without_slice_info_the_plate_gcode_header_is_used(tmp_path: Path) -> None:
    path = samples.write_bambu_3mf(
        tmp_path / "bare.gcode.3mf",
        omit=("Metadata/slice_info.config", "Metadata/project_settings.config"),
    )

    meta = parse(path)

    assert meta.print_time_seconds == 5450  # "total estimated time: 1h 30m 50s"
    assert meta.filament_weight_grams == 17.32
    assert meta.printer_model_id == "Bambu Lab P1S"
    assert meta.object_count == 2  # 3D/3dmodel.model build items
    assert meta.slicer == "BambuStudio"


def test_plate_png_that_is_not_an_image_falls_back_to_gcode_thumbnail(tmp_path: Path) -> None:
    path = samples.write_bambu_3mf(
        tmp_path / "badpng.gcode.3mf", extra={"Metadata/plate_1.png": b"not a png"}
    )

    meta = parse(path)

    assert meta.thumbnail == samples.make_png(300, 300, seed=9)


def test_unsliced_prusaslicer_project(tmp_path: Path) -> None:
    path = samples.write_project_3mf(tmp_path / "project.3mf", "PrusaSlicer-2.8.1", 3, True)

    meta = parse(path)

    assert meta.object_count == 3
    assert meta.slicer == "PrusaSlicer"
    assert meta.slicer_version == "2.8.1"
    assert meta.thumbnail == samples.make_png(256, 256, seed=7)
    assert meta.print_time_seconds is None
    assert meta.layer_count is None
    assert meta.gcode_entry is None
    assert meta.plate_index is None


def test_unsliced_project_without_thumbnail(tmp_path: Path) -> None:
    meta = parse(samples.write_project_3mf(tmp_path / "plain.3mf", "Blender", 1, False))

    assert meta.thumbnail is None
    assert meta.object_count == 1
    assert meta.slicer == "Blender"


# -- malformed ---------------------------------------------------------------------------


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "random.3mf"
    path.write_bytes(os.urandom(5000))

    with pytest.raises(MetadataError, match="not a valid zip"):
        parse(path)


def test_truncated_zip(tmp_path: Path) -> None:
    full = samples.write_bambu_3mf(tmp_path / "full.gcode.3mf").read_bytes()
    path = tmp_path / "cut.gcode.3mf"
    path.write_bytes(full[: len(full) // 2])

    with pytest.raises(MetadataError, match="not a valid zip"):
        parse(path)


def test_zip_without_model_or_plate_gcode(tmp_path: Path) -> None:
    path = tmp_path / "empty.3mf"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", samples.CONTENT_TYPES)
        archive.writestr("Metadata/slice_info.config", samples.slice_info([1]))

    with pytest.raises(MetadataError, match=r"neither 3D/3dmodel\.model nor"):
        parse(path)


def test_corrupt_plate_gcode_data(tmp_path: Path) -> None:
    path = samples.write_bambu_3mf(tmp_path / "corrupt.gcode.3mf", md5=None)
    samples.corrupt_entry(path, "Metadata/plate_1.gcode")

    with pytest.raises(MetadataError, match=r"plate_1\.gcode"):
        parse(path)


def test_md5_mismatch(tmp_path: Path) -> None:
    path = samples.write_bambu_3mf(tmp_path / "md5.gcode.3mf", md5="0" * 32)

    with pytest.raises(MetadataError, match="does not match its MD5"):
        parse(path)


def test_invalid_slice_info_xml(tmp_path: Path) -> None:
    path = samples.write_bambu_3mf(
        tmp_path / "xml.gcode.3mf", extra={"Metadata/slice_info.config": "<config><plate>"}
    )

    with pytest.raises(MetadataError, match=r"slice_info\.config is not valid XML"):
        parse(path)


def test_invalid_project_settings_json(tmp_path: Path) -> None:
    path = samples.write_bambu_3mf(
        tmp_path / "json.gcode.3mf", extra={"Metadata/project_settings.config": '{"printer_'}
    )

    with pytest.raises(MetadataError, match=r"project_settings\.config is not valid JSON"):
        parse(path)


def test_plate_gcode_that_is_binary(tmp_path: Path) -> None:
    garbage = "".join(chr(i % 32) for i in range(20_000))
    path = samples.write_bambu_3mf(tmp_path / "bin.gcode.3mf", gcode_chunks=iter([garbage]))

    with pytest.raises(MetadataError, match=r"plate_1\.gcode is not text G-code"):
        parse(path)


def test_empty_plate_gcode(tmp_path: Path) -> None:
    path = samples.write_bambu_3mf(tmp_path / "empty.gcode.3mf", gcode_chunks=iter([""]))

    with pytest.raises(MetadataError, match=r"plate_1\.gcode is empty"):
        parse(path)


def test_plate_gcode_cut_inside_its_thumbnail(tmp_path: Path) -> None:
    text = "".join(samples.bambu_gcode())
    cut = text[: text.index("; thumbnail begin") + 3000]
    path = samples.write_bambu_3mf(tmp_path / "cutthumb.gcode.3mf", gcode_chunks=iter([cut]))

    with pytest.raises(MetadataError, match="thumbnail block is truncated"):
        parse(path)


def test_invalid_model_xml_in_unsliced_project(tmp_path: Path) -> None:
    path = tmp_path / "broken.3mf"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("3D/3dmodel.model", "<model><resources><object id='1'>")

    with pytest.raises(MetadataError, match=r"3dmodel\.model is not valid XML"):
        parse(path)


def test_orcaslicer_gcode_3mf(tmp_path: Path) -> None:
    orca = samples.write_orcaslicer(tmp_path / "orca.gcode", layers=9).read_text()
    path = samples.write_bambu_3mf(
        tmp_path / "orca.gcode.3mf",
        gcode_chunks=iter([orca]),
        omit=("Metadata/project_settings.config",),
    )

    meta = parse(path)

    assert meta.slicer == "OrcaSlicer"
    assert meta.layer_count == 9
    assert meta.print_time_seconds == 5450  # slice_info prediction wins over the G-code
    assert meta.curr_bed_type == "textured_plate"  # plate_1.json when no project settings
    assert meta.default_print_profile == "0.20mm Standard @Voron"  # from the G-code config


def test_plate_gcode_config_at_the_end_is_read_from_the_tail(tmp_path: Path) -> None:
    """Orca writes its config block after the moves: past the 1 MiB head window."""
    orca = samples.write_orcaslicer(tmp_path / "orca.gcode", layers=3000).read_text()
    assert len(orca.encode()) > 2 << 20
    path = samples.write_bambu_3mf(
        tmp_path / "tail.gcode.3mf",
        gcode_chunks=iter([orca]),
        omit=("Metadata/project_settings.config", "Metadata/slice_info.config"),
    )

    meta = parse(path)

    assert meta.print_time_seconds == 5405  # footer: estimated printing time (normal mode)
    assert meta.printer_model_id == "Voron 2.4 350"  # footer config block
    assert meta.default_print_profile == "0.20mm Standard @Voron"
    assert meta.layer_count == 3000
