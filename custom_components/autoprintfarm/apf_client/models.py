"""Dataclasses for the resources of the public API (v1).

Parsing is tolerant: unknown fields are ignored, missing or mistyped optional
fields become ``None``. Only the identifiers a resource cannot exist without
are required; a response without them raises :class:`APFResponseError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any, Self

from .exceptions import APFResponseError
from .parsing import JSONObject, opt_bool, opt_float, opt_int, opt_str, parse_time, req_str
from .status_parts import KeyInfo, PrinterMessage, Tray


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """``GET /server``: the identity of the farm server."""

    server_id: str
    name: str
    version: str | None = None
    api: str | None = None  # "autoprintfarm-public-v1"; older servers do not say
    key: KeyInfo | None = None  # the calling key (newer servers)

    @classmethod
    def from_dict(cls, data: JSONObject) -> Self:
        server_id = req_str(data, "server_id", "server")
        key = data.get("key")
        return cls(
            server_id=server_id,
            name=opt_str(data.get("name")) or "AutoPrintFarm",
            version=opt_str(data.get("version")),
            api=opt_str(data.get("api")),
            key=KeyInfo.from_dict(key) if isinstance(key, Mapping) else None,
        )


@dataclass(frozen=True, slots=True)
class Printer:
    """A printer (list or detail projection)."""

    id: str
    name: str
    model: str | None = None
    manufacturer: str | None = None
    status: str | None = None
    location: str | None = None
    nozzle_size: float | None = None
    current_color: str | None = None
    current_color_hex: str | None = None
    current_filament_type: str | None = None
    is_active: bool = True
    firmware_version: str | None = None
    in_maintenance: bool | None = None
    maintenance_type: str | None = None
    capabilities: frozenset[str] | None = None
    awaiting_bed_clear: bool | None = None

    @classmethod
    def from_dict(cls, data: JSONObject) -> Self:
        caps = data.get("capabilities")
        return cls(
            id=req_str(data, "id", "printer"),
            name=opt_str(data.get("name")) or req_str(data, "id", "printer"),
            model=opt_str(data.get("model")),
            manufacturer=opt_str(data.get("manufacturer")),
            status=opt_str(data.get("status")),
            location=opt_str(data.get("location")),
            nozzle_size=opt_float(data.get("nozzle_size")),
            current_color=opt_str(data.get("current_color")),
            current_color_hex=opt_str(data.get("current_color_hex")),
            current_filament_type=opt_str(data.get("current_filament_type")),
            is_active=opt_bool(data.get("is_active")) is not False,
            firmware_version=opt_str(data.get("firmware_version")),
            in_maintenance=opt_bool(data.get("in_maintenance")),
            maintenance_type=opt_str(data.get("maintenance_type")),
            capabilities=frozenset(str(c) for c in caps) if isinstance(caps, list) else None,
            awaiting_bed_clear=opt_bool(data.get("awaiting_bed_clear")),
        )

    def has_capability(self, capability: str) -> bool | None:
        """``True``/``False`` when the server reports capabilities, else ``None``."""
        return None if self.capabilities is None else capability in self.capabilities


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    """``GET /printers/{id}/status``: live telemetry. ``None`` means not reported."""

    printer_id: str
    status: str | None = None
    hub_online: bool | None = None
    progress: float | None = None
    nozzle_temp: float | None = None
    bed_temp: float | None = None
    chamber_temp: float | None = None
    target_nozzle_temp: float | None = None
    target_bed_temp: float | None = None
    target_chamber_temp: float | None = None
    layer_num: int | None = None
    total_layers: int | None = None
    remaining_time_minutes: int | None = None
    current_job_id: str | None = None
    current_color: str | None = None
    current_color_hex: str | None = None
    current_filament_type: str | None = None
    last_telemetry_at: datetime | None = None
    light_on: bool | None = None
    error: str | None = None
    bed_clear_required: bool | None = None
    print_started_at: datetime | None = None
    offline_reason: str | None = None
    messages: tuple[PrinterMessage, ...] = ()
    trays: tuple[Tray, ...] | None = None  # None: not reported; () : no trays
    speed_level: str | None = None
    speed_percent: float | None = None

    @classmethod
    def from_dict(cls, data: JSONObject) -> Self:
        bed_clear = opt_bool(data.get("bed_clear_required"))
        if bed_clear is None:
            bed_clear = opt_bool(data.get("awaiting_bed_clear"))
        return cls(
            printer_id=req_str(data, "printer_id", "printer status"),
            status=opt_str(data.get("status")),
            hub_online=opt_bool(data.get("hub_online")),
            progress=opt_float(data.get("progress")),
            nozzle_temp=opt_float(data.get("nozzle_temp")),
            bed_temp=opt_float(data.get("bed_temp")),
            chamber_temp=opt_float(data.get("chamber_temp")),
            target_nozzle_temp=opt_float(data.get("target_nozzle_temp")),
            target_bed_temp=opt_float(data.get("target_bed_temp")),
            target_chamber_temp=opt_float(data.get("target_chamber_temp")),
            layer_num=opt_int(data.get("layer_num")),
            total_layers=opt_int(data.get("total_layers")),
            remaining_time_minutes=opt_int(data.get("remaining_time_minutes")),
            current_job_id=opt_str(data.get("current_job_id")),
            current_color=opt_str(data.get("current_color")),
            current_color_hex=opt_str(data.get("current_color_hex")),
            current_filament_type=opt_str(data.get("current_filament_type")),
            last_telemetry_at=parse_time(data.get("last_telemetry_at")),
            light_on=opt_bool(data.get("light_on")),
            error=opt_str(data.get("error")),
            bed_clear_required=bed_clear,
            print_started_at=parse_time(data.get("print_started_at")),
            offline_reason=opt_str(data.get("offline_reason")),
            messages=PrinterMessage.parse_list(data.get("messages")),
            trays=Tray.parse_list(data.get("trays")),
            speed_level=opt_str(data.get("speed_level")),
            speed_percent=opt_float(data.get("speed_percent")),
        )

    def updated_by(self, data: JSONObject) -> Self:
        """This status after a ``printer.status`` push: the fields the push carries replace
        ours, the others (job, colour, bed flag: not in the event) keep their values."""
        pushed = type(self).from_dict(data)
        keys = set(data)
        if "awaiting_bed_clear" in keys:
            keys.add("bed_clear_required")
        if "online" in keys and "hub_online" not in keys:  # the event's word for it
            pushed = replace(pushed, hub_online=opt_bool(data.get("online")))
            keys.add("hub_online")
        changes = {
            f.name: getattr(pushed, f.name)
            for f in fields(self)
            if f.name in keys and f.name != "printer_id"
        }
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class Job:
    """A print job."""

    id: str
    status: str
    printer_id: str | None = None
    product_name: str | None = None
    product_sku_id: str | None = None
    print_file_id: str | None = None
    file_name: str | None = None
    number_of_units: int | None = None
    progress_percentage: float | None = None
    estimated_print_time_minutes: int | None = None
    failure_reason: str | None = None
    time_submitted: datetime | None = None
    time_started: datetime | None = None
    time_completed: datetime | None = None

    @classmethod
    def from_dict(cls, data: JSONObject) -> Self:
        return cls(
            id=req_str(data, "id", "job"),
            status=opt_str(data.get("status")) or "unknown",
            printer_id=opt_str(data.get("printer_id")),
            product_name=opt_str(data.get("product_name")),
            product_sku_id=opt_str(data.get("product_sku_id")),
            print_file_id=opt_str(data.get("print_file_id") or data.get("file_id")),
            file_name=opt_str(data.get("file_name")),
            number_of_units=opt_int(data.get("number_of_units")),
            progress_percentage=opt_float(data.get("progress_percentage")),
            estimated_print_time_minutes=opt_int(data.get("estimated_print_time_minutes")),
            failure_reason=opt_str(data.get("failure_reason")),
            time_submitted=parse_time(data.get("time_submitted")),
            time_started=parse_time(data.get("time_started")),
            time_completed=parse_time(data.get("time_completed")),
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (timestamps as ISO strings), for action responses."""
        return {
            "id": self.id,
            "status": self.status,
            "printer_id": self.printer_id,
            "product_name": self.product_name,
            "product_sku_id": self.product_sku_id,
            "print_file_id": self.print_file_id,
            "file_name": self.file_name,
            "number_of_units": self.number_of_units,
            "progress_percentage": self.progress_percentage,
            "failure_reason": self.failure_reason,
            "time_submitted": _iso(self.time_submitted),
            "time_started": _iso(self.time_started),
            "time_completed": _iso(self.time_completed),
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True, slots=True)
class JobStats:
    """``GET /jobs/stats``. ``failed_today`` is ``None`` when the server omits it."""

    queued: int = 0
    printing: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    completed_today: int = 0
    failed_today: int | None = None
    by_status: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: JSONObject) -> Self:
        summary = data.get("summary") if isinstance(data.get("summary"), Mapping) else data
        raw_by_status = data.get("by_status")
        by_status = (
            {str(k): opt_int(v) or 0 for k, v in raw_by_status.items()}
            if isinstance(raw_by_status, Mapping)
            else {}
        )
        assert isinstance(summary, Mapping)

        def pick(key: str, *fallbacks: str) -> int:
            for name in (key, *fallbacks):
                if (value := opt_int(summary.get(name))) is not None:
                    return value
                if name in by_status:
                    return by_status[name]
            return 0

        return cls(
            queued=pick("queued"),
            printing=by_status.get("printing", pick("active")),
            completed=pick("completed"),
            failed=pick("failed"),
            cancelled=pick("cancelled"),
            completed_today=pick("completed_today"),
            failed_today=opt_int(summary.get("failed_today")),
            by_status=by_status,
        )


@dataclass(frozen=True, slots=True)
class InventoryItem:
    """A finished-goods stock row."""

    id: str
    sku: str
    product_sku_id: str | None = None
    color: str | None = None
    material: str | None = None
    ready_stock: int = 0
    low_stock_threshold: int | None = None
    status: str | None = None
    is_active: bool = True
    product_name: str | None = None

    @classmethod
    def from_dict(cls, data: JSONObject) -> Self:
        return cls(
            id=req_str(data, "id", "inventory item"),
            sku=opt_str(data.get("sku")) or req_str(data, "id", "inventory item"),
            product_sku_id=opt_str(data.get("product_sku_id")),
            color=opt_str(data.get("color")),
            material=opt_str(data.get("material")),
            ready_stock=opt_int(data.get("ready_stock")) or 0,
            low_stock_threshold=opt_int(data.get("low_stock_threshold")),
            status=opt_str(data.get("status")),
            is_active=opt_bool(data.get("is_active")) is not False,
            product_name=opt_str(data.get("product_name")),
        )

    @property
    def is_low(self) -> bool:
        return self.status in ("low_stock", "out_of_stock") or (
            self.low_stock_threshold is not None and self.ready_stock <= self.low_stock_threshold
        )


@dataclass(frozen=True, slots=True)
class StockAdjustment:
    """Result of ``POST /inventory/{id}/adjust``."""

    id: str
    previous_stock: int
    adjustment: int
    new_stock: int
    new_status: str | None = None
    is_low_stock: bool | None = None

    @classmethod
    def from_dict(cls, data: JSONObject) -> Self:
        return cls(
            id=req_str(data, "id", "stock adjustment"),
            previous_stock=opt_int(data.get("previous_stock")) or 0,
            adjustment=opt_int(data.get("adjustment")) or 0,
            new_stock=opt_int(data.get("new_stock")) or 0,
            new_status=opt_str(data.get("new_status")),
            is_low_stock=opt_bool(data.get("is_low_stock")),
        )


@dataclass(frozen=True, slots=True)
class Filament:
    """A filament spool."""

    id: str
    type: str
    color: str | None = None
    hex_code: str | None = None
    brand: str | None = None
    remaining_grams: float | None = None
    low_threshold: float | None = None
    status: str | None = None
    location: str | None = None

    @classmethod
    def from_dict(cls, data: JSONObject) -> Self:
        return cls(
            id=req_str(data, "id", "filament"),
            type=opt_str(data.get("type")) or "unknown",
            color=opt_str(data.get("color")),
            hex_code=opt_str(data.get("hex_code")),
            brand=opt_str(data.get("brand")),
            remaining_grams=opt_float(data.get("remaining_grams")),
            low_threshold=opt_float(data.get("low_threshold")),
            status=opt_str(data.get("status")),
            location=opt_str(data.get("location")),
        )

    @property
    def label(self) -> str:
        """Human name such as ``"Prusament PLA Galaxy Black"``."""
        return " ".join(p for p in (self.brand, self.type, self.color) if p)


@dataclass(frozen=True, slots=True)
class Hub:
    """A printer hub (for APF: usually the server's own driver host)."""

    id: str
    name: str
    firmware_version: str | None = None
    is_online: bool | None = None
    printer_count: int | None = None

    @classmethod
    def from_dict(cls, data: JSONObject) -> Self:
        return cls(
            id=req_str(data, "id", "hub"),
            name=opt_str(data.get("name")) or req_str(data, "id", "hub"),
            firmware_version=opt_str(data.get("firmware_version")),
            is_online=opt_bool(data.get("is_online")),
            printer_count=opt_int(data.get("printer_count")),
        )


@dataclass(frozen=True, slots=True)
class CommandResult:
    """A dispatched physical command (control, light, temperature)."""

    printer_id: str
    command_id: str | None = None
    action: str | None = None
    status: str | None = None

    @classmethod
    def from_dict(cls, data: JSONObject) -> Self:
        return cls(
            printer_id=req_str(data, "printer_id", "command result"),
            command_id=opt_str(data.get("command_id")),
            action=opt_str(data.get("action")),
            status=opt_str(data.get("status")),
        )


@dataclass(frozen=True, slots=True)
class Order:
    """An order (only the fields the client needs) and any fulfilment errors."""

    id: str
    status: str | None = None
    order_number: str | None = None
    fulfillment_errors: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: JSONObject) -> Self:
        errors = data.get("fulfillment_errors")
        return cls(
            id=req_str(data, "id", "order"),
            status=opt_str(data.get("status")),
            order_number=opt_str(data.get("order_number")),
            fulfillment_errors=tuple(str(e) for e in errors) if isinstance(errors, list) else (),
        )


@dataclass(frozen=True, slots=True)
class FarmEvent:
    """One event from the stream (``kind: event``)."""

    id: int
    type: str
    time: datetime | None
    data: JSONObject

    @classmethod
    def from_dict(cls, frame: JSONObject) -> Self:
        event_id = opt_int(frame.get("id"))
        event_type = opt_str(frame.get("type"))
        if event_id is None or not event_type:
            raise APFResponseError("event frame without id or type")
        data = frame.get("data")
        return cls(
            id=event_id,
            type=event_type,
            time=parse_time(frame.get("time")),
            data=data if isinstance(data, Mapping) else {},
        )

    @property
    def printer_id(self) -> str | None:
        """The printer the event is about, if any."""
        return opt_str(self.data.get("printer_id"))
