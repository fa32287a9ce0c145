"""STL, OBJ and AMF: accepted with an object count, rejected when malformed."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from apf_core.files import MetadataError, parse_metadata

from . import samples


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def parse(path: Path):
    return parse_metadata(path, path.name)


def test_binary_stl(tmp_path: Path) -> None:
    meta = parse(write(tmp_path, "part.stl", samples.binary_stl(12)))

    assert meta.object_count == 1
    assert meta.slicer is None
    assert meta.print_time_seconds is None
    assert meta.thumbnail is None


def test_binary_stl_whose_header_starts_with_solid(tmp_path: Path) -> None:
    """Some CAD exporters write 'solid' into the binary header."""
    path = write(tmp_path, "cad.STL", samples.binary_stl(5, header=b"solid exported by CAD"))

    assert parse(path).object_count == 1


def test_ascii_stl_counts_solids(tmp_path: Path) -> None:
    path = write(tmp_path, "two.stl", samples.ascii_stl(("left", "right")))

    assert parse(path).object_count == 2


def test_stl_that_is_neither_binary_nor_ascii(tmp_path: Path) -> None:
    data = samples.binary_stl(10)[:-7]  # count no longer matches the size
    with pytest.raises(MetadataError, match="neither binary STL"):
        parse(write(tmp_path, "cut.stl", data))


def test_empty_stl(tmp_path: Path) -> None:
    with pytest.raises(MetadataError, match="empty"):
        parse(write(tmp_path, "empty.stl", b""))


def test_obj_counts_objects(tmp_path: Path) -> None:
    assert parse(write(tmp_path, "scene.obj", samples.obj_text(("A", "B", "C")))).object_count == 3


def test_obj_without_object_lines_is_one_object(tmp_path: Path) -> None:
    path = write(tmp_path, "bare.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")

    assert parse(path).object_count == 1


def test_obj_without_vertices(tmp_path: Path) -> None:
    with pytest.raises(MetadataError, match="no vertices"):
        parse(write(tmp_path, "none.obj", "# nothing here\n"))


def test_obj_binary_garbage(tmp_path: Path) -> None:
    with pytest.raises(MetadataError, match="binary content"):
        parse(write(tmp_path, "noise.obj", os.urandom(4096)))


def test_amf_counts_objects(tmp_path: Path) -> None:
    assert parse(write(tmp_path, "model.amf", samples.amf_text(2))).object_count == 2


def test_zipped_amf(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model.amf", samples.amf_text(4))

    assert parse(write(tmp_path, "model.amf", buffer.getvalue())).object_count == 4


def test_amf_with_wrong_root(tmp_path: Path) -> None:
    with pytest.raises(MetadataError, match="not an AMF document"):
        parse(write(tmp_path, "x.amf", "<?xml version='1.0'?><svg></svg>"))


def test_truncated_amf(tmp_path: Path) -> None:
    text = samples.amf_text(2)
    with pytest.raises(MetadataError, match="not valid XML"):
        parse(write(tmp_path, "cut.amf", text[: len(text) // 2]))


def test_corrupt_zipped_amf(tmp_path: Path) -> None:
    with pytest.raises(MetadataError, match="corrupt"):
        parse(write(tmp_path, "bad.amf", b"PK\x03\x04" + os.urandom(100)))
