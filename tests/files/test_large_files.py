"""Large files are parsed with bounded memory (tracemalloc peak << file size)."""

from __future__ import annotations

import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from apf_core.files import FileMetadata, parse_metadata

from . import samples

MB = 1 << 20
LARGE = 50 * MB
#: head + tail windows (1 MiB each) plus one read chunk (1 MiB), with slack
PEAK_LIMIT = 8 * MB


def traced(call: Callable[[], FileMetadata]) -> tuple[FileMetadata, int]:
    tracemalloc.start()
    try:
        result = call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


@pytest.fixture(scope="module")
def big_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("large")


def test_50mb_prusaslicer_gcode(big_dir: Path) -> None:
    path = big_dir / "big.gcode"
    layers = samples.write_large_prusaslicer(path, LARGE)
    assert path.stat().st_size >= LARGE

    meta, peak = traced(lambda: parse_metadata(path, "big.gcode"))

    print(f"peak {peak / MB:.2f} MiB")
    assert peak < PEAK_LIMIT, f"peak {peak / MB:.1f} MiB"
    assert meta.layer_count == layers  # full streamed ;LAYER_CHANGE count
    assert meta.print_time_seconds == 3723  # footer, in the tail window
    assert meta.printer_model_id == "MK4S"
    assert meta.thumbnail == samples.make_png(313, 173, seed=313)


def test_50mb_plate_gcode_inside_a_3mf(big_dir: Path) -> None:
    chunks, counted = samples.large_bambu_gcode(LARGE)
    path = samples.write_bambu_3mf(big_dir / "big.gcode.3mf", gcode_chunks=chunks)
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo("Metadata/plate_1.gcode").file_size >= LARGE

    meta, peak = traced(lambda: parse_metadata(path, "big.gcode.3mf"))

    print(f"peak {peak / MB:.2f} MiB")
    assert peak < PEAK_LIMIT, f"peak {peak / MB:.1f} MiB"
    assert meta.layer_count == counted[0]  # counted while the MD5 was verified
    assert meta.print_time_seconds == 5450


def test_large_3d_model_is_stream_parsed(big_dir: Path) -> None:
    path = big_dir / "mesh.3mf"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("3D/3dmodel.model", samples.model_xml("Blender", 2, mesh_vertices=50_000))
    with zipfile.ZipFile(path) as archive:
        model_size = archive.getinfo("3D/3dmodel.model").file_size
    assert model_size > 5 * MB

    meta, peak = traced(lambda: parse_metadata(path, "mesh.3mf"))

    print(f"peak {peak / MB:.2f} MiB")
    assert peak < PEAK_LIMIT, f"peak {peak / MB:.1f} MiB"
    assert meta.object_count == 2


def test_large_obj(big_dir: Path) -> None:
    path = big_dir / "big.obj"
    samples.write_large_obj(path, 1_500_000)
    assert path.stat().st_size > 40 * MB

    meta, peak = traced(lambda: parse_metadata(path, "big.obj"))

    print(f"peak {peak / MB:.2f} MiB")
    assert peak < PEAK_LIMIT, f"peak {peak / MB:.1f} MiB"
    assert meta.object_count == 1
