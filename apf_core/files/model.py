"""The result of metadata extraction, and the error raised for unusable files."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PNG_MIME = "image/png"
JPEG_MIME = "image/jpeg"


class MetadataError(ValueError):
    """The file is malformed, truncated or not the type its name claims."""


@dataclass(frozen=True, slots=True)
class FileMetadata:
    """Print metadata for one file; ``None`` means "not present in the file".

    The first block mirrors the public API's FILE resource. The rest is extra
    detail that callers may store or ignore.
    """

    print_time_seconds: int | None = None
    filament_weight_grams: float | None = None
    filament_length_meters: float | None = None
    filament_type: str | None = None
    printer_model_id: str | None = None
    nozzle_diameter: float | None = None
    layer_count: int | None = None
    curr_bed_type: str | None = None
    default_print_profile: str | None = None
    object_count: int | None = None
    slicer: str | None = None
    thumbnail: bytes | None = field(default=None, repr=False)
    thumbnail_mime: str | None = None
    # extra detail
    slicer_version: str | None = None
    printer_model: str | None = None
    layer_height: float | None = None
    filament_types: tuple[str, ...] = ()
    #: 3MF only: the plate whose G-code was read, and that G-code's zip entry
    plate_index: int | None = None
    gcode_entry: str | None = None

    @property
    def has_thumbnail(self) -> bool:
        return self.thumbnail is not None

    def api_fields(self) -> dict[str, Any]:
        """The FILE resource's metadata fields (no thumbnail bytes)."""
        return {
            "print_time_seconds": self.print_time_seconds,
            "filament_weight_grams": self.filament_weight_grams,
            "filament_length_meters": self.filament_length_meters,
            "filament_type": self.filament_type,
            "printer_model_id": self.printer_model_id,
            "nozzle_diameter": self.nozzle_diameter,
            "layer_count": self.layer_count,
            "curr_bed_type": self.curr_bed_type,
            "default_print_profile": self.default_print_profile,
            "object_count": self.object_count,
        }

    def as_dict(self) -> dict[str, Any]:
        """Every field except the thumbnail bytes, JSON-ready."""
        return {
            **self.api_fields(),
            "slicer": self.slicer,
            "slicer_version": self.slicer_version,
            "printer_model": self.printer_model,
            "layer_height": self.layer_height,
            "filament_types": list(self.filament_types),
            "plate_index": self.plate_index,
            "gcode_entry": self.gcode_entry,
            "has_thumbnail": self.has_thumbnail,
            "thumbnail_mime": self.thumbnail_mime,
        }
