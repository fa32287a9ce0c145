"""G-code metadata per slicer, thumbnails, and malformed input."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from apf_core.files import JPEG_MIME, PNG_MIME, MetadataError, parse_metadata

from . import samples


def parse(path: Path):
    return parse_metadata(path, path.name)


def test_prusaslicer_fields(tmp_path: Path) -> None:
    meta = parse(samples.write_prusaslicer(tmp_path / "benchy_0.2mm_PLA_MK4S_1h2m.gcode"))

    assert meta.slicer == "PrusaSlicer"
    assert meta.slicer_version == "2.8.1+linux-x64-GTK3"
    assert meta.print_time_seconds == 3723  # 1h 2m 3s (normal mode, not silent)
    assert meta.filament_weight_grams == 3.69
    assert meta.filament_length_meters == pytest.approx(1.23456)
    assert meta.filament_type == "PLA"
    assert meta.filament_types == ("PLA",)
    assert meta.printer_model_id == "MK4S"
    assert meta.nozzle_diameter == 0.4
    assert meta.layer_height == 0.2
    assert meta.layer_count == 12  # counted ;LAYER_CHANGE markers
    assert meta.curr_bed_type is None
    assert meta.default_print_profile == "0.20mm SPEED @MK4S 0.4"
    assert meta.object_count == 2  # objects_info
    assert meta.plate_index is None
    assert meta.gcode_entry is None


def test_prusaslicer_thumbnail_is_the_largest_png(tmp_path: Path) -> None:
    meta = parse(samples.write_prusaslicer(tmp_path / "part.gcode"))

    assert meta.thumbnail == samples.make_png(313, 173, seed=313)
    assert meta.thumbnail_mime == PNG_MIME
    assert meta.has_thumbnail


def test_prusaslicer_without_thumbnails(tmp_path: Path) -> None:
    meta = parse(samples.write_prusaslicer(tmp_path / "part.gcode", thumbnails=False))

    assert meta.thumbnail is None
    assert meta.thumbnail_mime is None
    assert meta.print_time_seconds == 3723


def test_orcaslicer_fields(tmp_path: Path) -> None:
    meta = parse(samples.write_orcaslicer(tmp_path / "voron.gcode", layers=15))

    assert meta.slicer == "OrcaSlicer"
    assert meta.slicer_version == "2.2.0"
    assert meta.print_time_seconds == 5405  # 1h 30m 5s
    assert meta.filament_weight_grams == 16.6
    assert meta.filament_length_meters == pytest.approx(5.4321)
    assert meta.filament_type == "PETG"
    assert meta.printer_model_id == "Voron 2.4 350"
    assert meta.nozzle_diameter == 0.4
    assert meta.layer_count == 15  # header "total layer number"
    assert meta.curr_bed_type == "Textured PEI Plate"
    assert meta.default_print_profile == "0.20mm Standard @Voron"
    assert meta.object_count == 3  # EXCLUDE_OBJECT_DEFINE lines
    assert meta.thumbnail == samples.make_png(300, 300, seed=3)


def test_bambu_studio_gcode_fields(tmp_path: Path) -> None:
    meta = parse(samples.write_bambu_gcode(tmp_path / "plate_1.gcode"))

    assert meta.slicer == "BambuStudio"
    assert meta.slicer_version == "02.03.00.70"
    assert meta.print_time_seconds == 5450  # total estimated time 1h 30m 50s, not model time
    assert meta.filament_weight_grams == 17.32
    assert meta.filament_length_meters == pytest.approx(5.45)
    assert meta.filament_type == "PLA"
    assert meta.printer_model_id == "Bambu Lab P1S"
    assert meta.nozzle_diameter == 0.4
    assert meta.layer_count == samples.BAMBU_LAYERS
    assert meta.curr_bed_type == "Textured PEI Plate"
    assert meta.default_print_profile == "0.20mm Standard @BBL X1C"
    assert meta.thumbnail == samples.make_png(300, 300, seed=9)


def test_bambu_multi_filament_totals_are_summed(tmp_path: Path) -> None:
    path = samples.write_bambu_gcode(
        tmp_path / "mm.gcode",
        weights="10.00,7.32",
        lengths="3200.00,2250.00",
        filament_type="PLA;PETG",
    )
    meta = parse(path)

    assert meta.filament_weight_grams == pytest.approx(17.32)
    assert meta.filament_length_meters == pytest.approx(5.45)
    assert meta.filament_type == "PLA;PETG"
    assert meta.filament_types == ("PLA", "PETG")


def test_bambu_gcode_without_layer_total_counts_change_layer(tmp_path: Path) -> None:
    path = samples.write_bambu_gcode(tmp_path / "p.gcode", layers=37, header_layers=None)

    assert parse(path).layer_count == 37


@pytest.mark.parametrize("crlf", [False, True])
def test_cura_marlin_fields(tmp_path: Path, crlf: bool) -> None:
    meta = parse(samples.write_cura(tmp_path / "CE3V2_cube.gcode", layers=5, crlf=crlf))

    assert meta.slicer == "Cura"
    assert meta.slicer_version == "5.10.0"
    assert meta.print_time_seconds == 1375
    assert meta.filament_length_meters == pytest.approx(1.01345)
    # no weight in Cura output: 1013.45 mm x pi x 0.875^2 mm2 x 1.24 g/cm3
    assert meta.filament_weight_grams == pytest.approx(3.023, abs=0.001)
    assert meta.filament_type is None
    assert meta.printer_model_id == "Creality Ender-3 V2"
    assert meta.layer_height == 0.2
    assert meta.layer_count == 5
    assert meta.nozzle_diameter is None
    assert meta.thumbnail == samples.make_png(300, 300, seed=5)


def test_cura_griffin_header(tmp_path: Path) -> None:
    meta = parse(samples.write_cura_griffin(tmp_path / "UMS5_part.gcode"))

    assert meta.slicer == "Cura"
    assert meta.slicer_version == "5.7.1"
    assert meta.print_time_seconds == 111600
    assert meta.printer_model_id == "Ultimaker S5"
    assert meta.nozzle_diameter == 0.4
    assert meta.layer_count == 590
    # 40658 mm3 of 2.85 mm filament
    assert meta.filament_length_meters == pytest.approx(6.3733, abs=1e-4)
    assert meta.filament_weight_grams == pytest.approx(40.658 * 1.24, abs=0.001)


def test_gcode_without_slicer_header_has_null_metadata(tmp_path: Path) -> None:
    path = tmp_path / "hand_written.gcode"
    path.write_text("G28 ; home\nG1 X10 Y10 F3000\nM104 S0\n")

    meta = parse(path)

    assert meta.slicer is None
    assert all(value is None for value in meta.api_fields().values())
    assert meta.thumbnail is None


def test_jpeg_thumbnail_is_used_when_no_png(tmp_path: Path) -> None:
    jpeg = samples.make_jpeg_like()
    path = tmp_path / "mini.gcode"
    path.write_text(
        samples.thumbnail_block(jpeg, 220, 124, tag="thumbnail_JPG")
        + samples.thumbnail_block(b"qoif" + bytes(40), 440, 240, tag="thumbnail_QOI")
        + "G28\n"
    )

    meta = parse(path)

    assert meta.thumbnail == jpeg
    assert meta.thumbnail_mime == JPEG_MIME


def test_qoi_only_thumbnail_is_not_served(tmp_path: Path) -> None:
    path = tmp_path / "qoi.gcode"
    path.write_text(
        samples.thumbnail_block(b"qoif" + bytes(40), 16, 16, tag="thumbnail_QOI") + "G28\n"
    )

    assert parse(path).thumbnail is None


def test_thumbnail_block_straddling_the_head_window(tmp_path: Path) -> None:
    """A block cut by the 1 MiB head window is read with a longer head."""
    png = samples.make_png(400, 300, seed=1)
    padding = "".join(f"; note {i:07d} padding comment line\n" for i in range(28_000))
    assert 900_000 < len(padding) < 1_048_576
    content = (
        "; generated by PrusaSlicer 2.8.1 on 2026-11-21 at 12:00:00 UTC\n"
        + padding
        + samples.thumbnail_block(png, 400, 300)
        + "G28\n"
        + "".join(samples.prusa_layers(3))
        + samples.prusaslicer_footer()
    )
    assert content.index("thumbnail begin") < 1 << 20 < content.index("thumbnail end")
    path = tmp_path / "late_thumb.gcode"
    path.write_text(content)

    meta = parse(path)

    assert meta.thumbnail == png
    assert meta.layer_count == 3


# -- malformed input ---------------------------------------------------------------------


def test_empty_gcode_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "empty.gcode"
    path.write_bytes(b"")

    with pytest.raises(MetadataError, match="empty"):
        parse(path)


def test_binary_garbage_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "garbage.gcode"
    path.write_bytes(os.urandom(200_000))

    with pytest.raises(MetadataError, match="binary content"):
        parse(path)


def test_binary_gcode_bgcode_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "mk4.gcode"
    path.write_bytes(b"GCDE\x01\x00\x00\x00\x01\x00" + os.urandom(1000))

    with pytest.raises(MetadataError, match=r"\.bgcode"):
        parse(path)


def test_text_that_is_not_gcode_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "letter.gcode"
    path.write_text("Dear printer,\nplease print something nice.\n")

    with pytest.raises(MetadataError, match="no G-code"):
        parse(path)


def test_file_cut_inside_a_thumbnail_block_is_rejected(tmp_path: Path) -> None:
    full = samples.write_prusaslicer(tmp_path / "full.gcode").read_bytes()
    start = full.index(b"; thumbnail begin 313x173")
    path = tmp_path / "cut.gcode"
    path.write_bytes(full[: start + 5000])

    with pytest.raises(MetadataError, match="truncated"):
        parse(path)


def test_thumbnail_shorter_than_declared_is_rejected(tmp_path: Path) -> None:
    block = samples.thumbnail_block(samples.make_png(32, 32), 32, 32).splitlines()
    del block[3]  # one base64 line missing, end marker still present
    path = tmp_path / "short.gcode"
    path.write_text("\n".join(block) + "\nG28\n")

    with pytest.raises(MetadataError, match="truncated: declared"):
        parse(path)


def test_thumbnail_with_invalid_base64_is_rejected(tmp_path: Path) -> None:
    block = samples.thumbnail_block(samples.make_png(32, 32), 32, 32)
    lines = block.splitlines()
    lines[3] = lines[3][:10] + "*" + lines[3][11:]  # same length, bad alphabet
    path = tmp_path / "bad64.gcode"
    path.write_text("\n".join(lines) + "\nG28\n")

    with pytest.raises(MetadataError, match="not valid base64"):
        parse(path)


def test_png_tag_holding_other_bytes_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "fake.gcode"
    path.write_text(samples.thumbnail_block(b"GIF89a" + bytes(60), 8, 8) + "G28\n")

    with pytest.raises(MetadataError, match="image type"):
        parse(path)


def test_unterminated_block_followed_by_another_is_rejected(tmp_path: Path) -> None:
    first = samples.thumbnail_block(samples.make_png(16, 16), 16, 16).splitlines()
    first = [line for line in first if "thumbnail end" not in line]
    second = samples.thumbnail_block(samples.make_png(32, 32), 32, 32)
    path = tmp_path / "unterminated.gcode"
    path.write_text("\n".join(first) + "\n" + second + "G28\n")

    with pytest.raises(MetadataError, match="not terminated"):
        parse(path)


def test_declared_length_is_checked_against_real_base64(tmp_path: Path) -> None:
    png = samples.make_png(16, 16)
    encoded = base64.b64encode(png).decode()
    path = tmp_path / "lying.gcode"
    path.write_text(
        f"; thumbnail begin 16x16 {len(encoded) + 78}\n; {encoded}\n; thumbnail end\nG28\n"
    )

    with pytest.raises(MetadataError, match="truncated"):
        parse(path)


def test_utf8_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    source = samples.write_prusaslicer(tmp_path / "plain.gcode", thumbnails=False).read_bytes()
    path = tmp_path / "bom.gcode"
    path.write_bytes(b"\xef\xbb\xbf" + source)

    meta = parse(path)

    assert meta.slicer == "PrusaSlicer"
    assert meta.print_time_seconds == 3723


def test_prusaslicer_unused_extruders_do_not_count_as_filament_types(tmp_path: Path) -> None:
    source = samples.write_prusaslicer(tmp_path / "xl.gcode", thumbnails=False).read_text()
    source = source.replace(
        "; filament used [mm] = 1234.56", "; filament used [mm] = 0.00, 1234.56, 0.00"
    ).replace("; filament_type = PLA", "; filament_type = PLA;PETG;PLA")
    path = tmp_path / "xl_multi.gcode"
    path.write_text(source)

    meta = parse(path)

    assert meta.filament_type == "PETG"
    assert meta.filament_length_meters == pytest.approx(1.23456)


def test_line_straddling_the_head_window_is_not_lost(tmp_path: Path) -> None:
    """A file between one and two windows long: the line cut by the head window
    is read whole from the tail."""
    head = samples.prusaslicer_head(thumbnails=False) + "".join(samples.prusa_layers(3))
    time_line = "; estimated printing time (normal mode) = 2h 0m 1s\n"
    filler_lines = (1 << 20) - 10 - len(head)
    filler = "".join(f"G1 X1 Y{n % 10}\n" for n in range(filler_lines // 11))
    filler += ";" * (filler_lines - len(filler) - 1) + "\n"
    content = head + filler + time_line + samples.prusaslicer_footer()
    start = content.index(time_line)
    assert start < 1 << 20 < start + len(time_line)
    path = tmp_path / "straddle.gcode"
    path.write_text(content)

    assert parse(path).print_time_seconds == 7201
