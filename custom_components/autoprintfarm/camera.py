"""The camera of printers that have one: still pictures from the server's snapshot endpoint."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.camera import Camera, CameraEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .apf_client import APFError
from .const import LOGGER
from .coordinator import ApfConfigEntry, ApfFarmCoordinator
from .data import PrinterData
from .entity import ApfPrinterEntity, add_printer_entities

PARALLEL_UPDATES = 1

#: Bambu X1/H2 pictures go through ffmpeg on the server: allow more than a plain request
SNAPSHOT_TIMEOUT = 20.0


@dataclass(frozen=True, kw_only=True)
class ApfCameraDescription(CameraEntityDescription):
    """A printer camera."""

    supported_fn: Callable[[PrinterData], bool]


CAMERA = ApfCameraDescription(
    key="camera",
    translation_key="camera",
    # only printers the server reports a camera for (Klipper reports its webcams once connected)
    supported_fn=lambda data: data.printer.has_capability("camera") is True,
)


async def async_setup_entry(
    hass: HomeAssistant, entry: ApfConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Set up a camera for each printer with one, now and later."""
    add_printer_entities(entry, async_add_entities, (CAMERA,), ApfPrinterCamera)


class ApfPrinterCamera(ApfPrinterEntity, Camera):
    """A printer's camera (JPEG stills; no stream)."""

    _attr_is_streaming = False

    def __init__(
        self, coordinator: ApfFarmCoordinator, printer_id: str, description: ApfCameraDescription
    ) -> None:
        ApfPrinterEntity.__init__(self, coordinator, printer_id, description)
        Camera.__init__(self)
        self.content_type = "image/jpeg"
        self._failing = False

    @property
    def available(self) -> bool:
        """A printer that is switched off or unreachable has no picture to give."""
        return super().available and self.printer_data.online

    async def async_camera_image(
        self, width: int | None = None, height: int | None = None
    ) -> bytes | None:
        try:
            image = await self.coordinator.client.camera_snapshot(
                self.printer_id, timeout=SNAPSHOT_TIMEOUT
            )
        except APFError as err:
            if not self._failing:  # once per outage, not per frontend poll
                LOGGER.info("No picture from the camera of %s: %s", self.printer_id, err)
            self._failing = True
            return None
        if self._failing:
            LOGGER.info("The camera of %s gives pictures again", self.printer_id)
        self._failing = False
        return image
