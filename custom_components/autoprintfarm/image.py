"""The thumbnail of each printer's current job."""

from __future__ import annotations

from homeassistant.components.image import ImageEntity, ImageEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .apf_client import APFError
from .const import LOGGER
from .coordinator import ApfConfigEntry, ApfFarmCoordinator
from .entity import ApfPrinterEntity

PARALLEL_UPDATES = 1

THUMBNAIL = ImageEntityDescription(key="job_thumbnail", translation_key="job_thumbnail")


async def async_setup_entry(
    hass: HomeAssistant, entry: ApfConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Set up a thumbnail image for every printer, now and later."""
    farm = entry.runtime_data.farm
    known: set[str] = set()

    @callback
    def _add_printers() -> None:
        current = set(farm.data.printers)
        known.intersection_update(current)
        if new := current - known:
            known.update(new)
            async_add_entities(ApfJobThumbnail(hass, farm, pid) for pid in sorted(new))

    _add_printers()
    entry.async_on_unload(farm.async_add_listener(_add_printers))


class ApfJobThumbnail(ApfPrinterEntity, ImageEntity):
    """PNG thumbnail of the file being printed; empty when idle."""

    _attr_content_type = "image/png"

    def __init__(
        self, hass: HomeAssistant, coordinator: ApfFarmCoordinator, printer_id: str
    ) -> None:
        ApfPrinterEntity.__init__(self, coordinator, printer_id, THUMBNAIL)
        ImageEntity.__init__(self, hass)
        self._file_id = self._current_file_id()
        self._attr_image_last_updated = dt_util.utcnow() if self._file_id else None

    def _current_file_id(self) -> str | None:
        job = self.printer_data.job if self.printer_id in self.coordinator.data.printers else None
        return job.print_file_id if job else None

    @callback
    def _handle_coordinator_update(self) -> None:
        file_id = self._current_file_id()
        if file_id != self._file_id:
            self._file_id = file_id
            self._cached_image = None
            self._attr_image_last_updated = dt_util.utcnow() if file_id else None
        super()._handle_coordinator_update()

    async def async_image(self) -> bytes | None:
        if self._file_id is None:
            return None
        try:
            return await self.coordinator.client.file_thumbnail(self._file_id)
        except APFError as err:
            LOGGER.debug("No thumbnail for file %s: %s", self._file_id, err)
            return None
