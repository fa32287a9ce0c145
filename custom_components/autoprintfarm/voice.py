"""Assist with no setup: the printers' sentences are registered as conversation triggers.

Home Assistant's own ``conversation`` trigger (what an automation's sentence trigger uses) lets an
integration add sentences to the default agent at run time: no custom_sentences file, no restart.
Each printer gets its own triggers with its name spelled out, so "pause the TV" still reaches the
media player. Sentences naming an unknown printer ("pause the Ender printer", "what is the Ender
doing") get a reply listing the printers. Replies are translated (strings.json, ``common``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import CALLBACK_TYPE, Context, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import translation
from homeassistant.helpers.script import ScriptRunResult
from homeassistant.helpers.trigger import async_initialize_triggers, async_validate_trigger_config
from homeassistant.setup import async_when_setup
from homeassistant.util.yaml import load_yaml_dict

from .apf_client import APFError
from .const import DOMAIN
from .coordinator import ApfConfigEntry
from .data import PrinterData
from .light import CHAMBER_LIGHT

_LOGGER = logging.getLogger(__name__)
SENTENCES = Path(__file__).parent / "sentences"
DATA_VOICE = f"{DOMAIN}_voice"
_USABLE = (ConfigEntryState.LOADED, ConfigEntryState.SETUP_IN_PROGRESS)
ACTIONS = ("pause", "resume", "status", "light_on", "light_off")
# Characters with a meaning in sentence templates; a printer name is spoken without them.
# Punctuation ending a word is not allowed in trigger sentences either.
_TEMPLATE_CHARS = re.compile(r"[\[\](){}<>|;\\]|[.,!?:](?=\s|$)")


def spoken_name(name: str) -> str:
    """A printer name as it can appear inside a sentence template."""
    return " ".join(_TEMPLATE_CHARS.sub(" ", name).split())


def _same_name(a: str, b: str) -> bool:
    return spoken_name(a).casefold() == spoken_name(b).casefold()


def loaded_printers(hass: HomeAssistant) -> list[tuple[ApfConfigEntry, PrinterData]]:
    """Every printer of every loaded farm (or one finishing its set-up)."""
    entries: list[ApfConfigEntry] = hass.config_entries.async_entries(DOMAIN)
    return [
        (entry, data)
        for entry in entries
        if entry.state in _USABLE and entry.runtime_data.farm.data is not None
        for data in entry.runtime_data.farm.data.printers.values()
    ]


def spoken_names(names: list[str]) -> dict[str, str]:
    """What each printer can be called (casefolded) -> its spoken name.

    A trailing model number may be left out when that still names one printer:
    "Voron 2.4" is also "Voron", "Ender 3" also "Ender".
    """
    full = {spoken_name(n).casefold(): spoken_name(n) for n in names if spoken_name(n)}
    short: dict[str, list[str]] = {}
    for name in full.values():
        words = name.split()
        while words and any(c.isdigit() for c in words[-1]):
            words.pop()
        if words and len(words) < len(name.split()):
            short.setdefault(" ".join(words).casefold(), []).append(name)
    aliases = {alias: found[0] for alias, found in short.items() if len(found) == 1}
    return {**aliases, **full}


def find_printer(hass: HomeAssistant, name: str) -> tuple[ApfConfigEntry, PrinterData] | None:
    """The printer so named (case, spacing and a left-out model number ignored)."""
    printers = loaded_printers(hass)
    known = spoken_names([p.printer.name for _e, p in printers])
    wanted = known.get(spoken_name(name).casefold())
    return next((p for p in printers if wanted and _same_name(p[1].printer.name, wanted)), None)


async def _texts(hass: HomeAssistant, language: str | None) -> dict[str, str]:
    lang = language or hass.config.language
    common = await translation.async_get_translations(hass, lang, "common", [DOMAIN])
    states = await translation.async_get_translations(hass, lang, "entity", [DOMAIN])
    return {**common, **states}


def _say(texts: dict[str, str], key: str, **values: Any) -> str:
    template = texts.get(f"component.{DOMAIN}.common.{key}", key)
    return template.format(**{k: "" if v is None else v for k, v in values.items()})


async def async_reply(
    hass: HomeAssistant, action: str, name: str, language: str | None
) -> tuple[str, bool]:
    """Carry out ``action`` (one of ACTIONS) on the named printer: (reply, succeeded)."""
    texts = await _texts(hass, language)
    found = find_printer(hass, name)
    if found is None:
        known = ", ".join(sorted(p.printer.name for _e, p in loaded_printers(hass)))
        return _say(texts, "voice_unknown_printer", name=name, printers=known or "-"), False
    entry, data = found
    printer = data.printer.name
    if action == "status":
        return _status_reply(texts, data), True
    if action.startswith("light"):
        return await _async_light(hass, texts, entry, data, action == "light_on")
    client = entry.runtime_data.client
    try:
        await (client.pause if action == "pause" else client.resume)(data.printer.id)
    except APFError as err:
        return _say(texts, f"voice_{action}_failed", printer=printer, error=str(err)), False
    await entry.runtime_data.farm.async_request_refresh()
    return _say(texts, f"voice_{action}_done", printer=printer), True


async def _async_light(
    hass: HomeAssistant, texts: dict[str, str], entry: ApfConfigEntry, data: PrinterData, on: bool
) -> tuple[str, bool]:
    """Switch the printer's Light entity, so that its state follows at once."""
    printer = data.printer.name
    unique_id = f"{entry.unique_id}_{data.printer.id}_{CHAMBER_LIGHT.key}"
    entity_id = er.async_get(hass).async_get_entity_id("light", DOMAIN, unique_id)
    if entity_id is None or hass.states.get(entity_id) is None:
        return _say(texts, "voice_no_light", printer=printer), False
    action = "light_on" if on else "light_off"
    try:
        await hass.services.async_call(
            "light", "turn_on" if on else "turn_off", {"entity_id": entity_id}, blocking=True
        )
    except HomeAssistantError as err:
        return _say(texts, f"voice_{action}_failed", printer=printer, error=str(err)), False
    return _say(texts, f"voice_{action}_done", printer=printer), True


def _status_reply(texts: dict[str, str], data: PrinterData) -> str:
    state_key = f"component.{DOMAIN}.entity.sensor.printer_state.state.{data.state}"
    state = texts.get(state_key, data.state).lower()
    speech = _say(texts, "voice_status", printer=data.printer.name, state=state)
    status = data.status
    if data.state in ("printing", "paused") and status and status.progress is not None:
        speech += _say(texts, "voice_status_progress", percent=round(status.progress))
        if status.remaining_time_minutes:
            speech += _say(texts, "voice_status_remaining", minutes=status.remaining_time_minutes)
    return speech


@dataclass(slots=True)
class _Sentences:
    """The sentence templates of one language (sentences/<language>.yaml)."""

    printer: dict[str, list[str]]  # action -> templates with {printer}
    unknown: dict[str, list[str]]  # action -> wildcard templates for names not known

    @classmethod
    def load(cls, language: str) -> _Sentences:
        path = SENTENCES / f"{language.split('-')[0]}.yaml"
        if not path.exists():
            path = SENTENCES / "en.yaml"
        raw = load_yaml_dict(str(path))
        return cls(printer=raw["printer"], unknown=raw["unknown_printer"])


class VoiceTriggers:
    """Keeps one set of conversation triggers in step with the printers' names."""

    def __init__(self, hass: HomeAssistant) -> None:
        self.hass = hass
        self._names: frozenset[str] | None = None
        self._remove: CALLBACK_TYPE | None = None
        self.ready = False

    async def async_conversation_ready(self, _hass: HomeAssistant, _component: str) -> None:
        self.ready = True
        await self.async_refresh()

    def _current_names(self) -> frozenset[str]:
        return frozenset(spoken_name(p.printer.name) for _e, p in loaded_printers(self.hass))

    @callback
    def async_check(self) -> None:
        """Cheap check on every data update: refresh only when a name changed."""
        if self.ready and self._current_names() != self._names:
            self.hass.async_create_task(self.async_refresh(), eager_start=True)

    async def async_refresh(self) -> None:
        """Register the sentences again when the set of printer names changed."""
        names = self._current_names()
        if not self.ready or names == self._names:
            return
        self._names = names
        if self._remove is not None:
            self._remove()
            self._remove = None
        if names:
            self._remove = await self._async_register(sorted(n for n in names if n))

    async def _async_register(self, names: list[str]) -> CALLBACK_TYPE | None:
        sentences = await self.hass.async_add_executor_job(
            _Sentences.load, self.hass.config.language
        )
        removes: list[CALLBACK_TYPE] = []
        said = spoken_names(names)
        for action in ACTIONS:
            for name in names:
                commands = [
                    template.replace("{printer}", alias)
                    for alias, target in said.items()
                    if target == name
                    for template in sentences.printer[action]
                ]
                removes.append(await self._attach(commands, partial(self._known, action, name)))
            removes.append(await self._attach(sentences.unknown[action], partial(self._unknown)))

        @callback
        def remove_all() -> None:
            for remove in removes:
                remove()

        return remove_all

    async def _attach(
        self, commands: list[str], reply: Callable[[dict[str, Any]], Awaitable[str | None]]
    ) -> CALLBACK_TYPE:
        config = await async_validate_trigger_config(
            self.hass, [{"platform": "conversation", "command": commands}]
        )

        async def action(variables: dict[str, Any], context: Context | None = None) -> Any:
            text = await reply(variables["trigger"])
            return ScriptRunResult(conversation_response=text, service_response=None, variables={})

        remove = await async_initialize_triggers(self.hass, config, action, DOMAIN, "Assist", _log)
        if remove is None:
            raise RuntimeError("the conversation trigger did not attach")
        return remove

    async def _known(self, action: str, name: str, trigger: dict[str, Any]) -> str:
        return (await async_reply(self.hass, action, name, _language(trigger)))[0]

    async def _unknown(self, trigger: dict[str, Any]) -> str | None:
        name = str(trigger["slots"].get("printer", ""))
        if find_printer(self.hass, name) is not None:
            return None  # the printer's own trigger answers
        return (await async_reply(self.hass, "status", name, _language(trigger)))[0]


def _language(trigger: dict[str, Any]) -> str | None:
    language = (trigger.get("user_input") or {}).get("language")
    return str(language) if language else None


def _log(level: int, msg: str, **kwargs: Any) -> None:
    _LOGGER.log(level, "Assist sentences: %s", msg, **kwargs)


async def async_setup_voice(hass: HomeAssistant, entry: ApfConfigEntry) -> None:
    """Keep the Assist sentences in step with this entry's printers (and its unloading)."""
    voice: VoiceTriggers | None = hass.data.get(DATA_VOICE)
    if voice is None:
        voice = hass.data[DATA_VOICE] = VoiceTriggers(hass)
        voice.ready = "conversation" in hass.config.components
        async_when_setup(hass, "conversation", voice.async_conversation_ready)

    entry.async_on_unload(entry.runtime_data.farm.async_add_listener(voice.async_check))
    entry.async_on_unload(voice.async_check)
    await voice.async_refresh()
