#!/usr/bin/env python3
"""Hassfest- and HACS-equivalent checks for custom_components/autoprintfarm.

Runs offline on Python 3.13 (the hassfest and hacs/action GitHub Actions cover the same
ground upstream). Checks manifest.json, strings.json + translations/en.json, services.yaml,
icons.json, quality_scale.yaml, the brand images, the blueprint and hacs.json, and
(scripts/validate_ha_deps.py) the requirements and imports.

Usage: python scripts/validate_ha.py [--root REPO]   (exit status 1 when problems are found)
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from validate_ha_deps import IndexLookup, check_dependencies, pypi_has

DOMAIN = "autoprintfarm"

# homeassistant/script/hassfest/manifest.py: keys a custom integration's manifest may have.
MANIFEST_KEYS = {
    "domain",
    "name",
    "after_dependencies",
    "bluetooth",
    "codeowners",
    "config_flow",
    "dependencies",
    "dhcp",
    "disabled",
    "documentation",
    "homekit",
    "import_executor",
    "integration_type",
    "iot_class",
    "issue_tracker",
    "loggers",
    "mqtt",
    "quality_scale",
    "requirements",
    "single_config_entry",
    "ssdp",
    "usb",
    "version",
    "zeroconf",
}
MANIFEST_REQUIRED = {
    "domain",
    "name",
    "codeowners",
    "documentation",
    "issue_tracker",
    "version",
    "iot_class",
}
IOT_CLASSES = {
    "assumed_state",
    "calculated",
    "cloud_polling",
    "cloud_push",
    "local_polling",
    "local_push",
}
INTEGRATION_TYPES = {
    "device",
    "entity",
    "hardware",
    "helper",
    "hub",
    "service",
    "system",
    "virtual",
}

QUALITY_RULES = {
    "bronze": [
        "action-setup",
        "appropriate-polling",
        "brands",
        "common-modules",
        "config-flow",
        "config-flow-test-coverage",
        "dependency-transparency",
        "docs-actions",
        "docs-conditions",
        "docs-high-level-description",
        "docs-installation-instructions",
        "docs-removal-instructions",
        "docs-triggers",
        "entity-event-setup",
        "entity-unique-id",
        "has-entity-name",
        "runtime-data",
        "test-before-configure",
        "test-before-setup",
        "unique-config-entry",
    ],
    "silver": [
        "action-exceptions",
        "config-entry-unloading",
        "docs-configuration-parameters",
        "docs-installation-parameters",
        "entity-unavailable",
        "integration-owner",
        "log-when-unavailable",
        "parallel-updates",
        "reauthentication-flow",
        "test-coverage",
    ],
    "gold": [
        "devices",
        "diagnostics",
        "discovery",
        "discovery-update-info",
        "docs-data-update",
        "docs-examples",
        "docs-known-limitations",
        "docs-supported-devices",
        "docs-supported-functions",
        "docs-troubleshooting",
        "docs-use-cases",
        "dynamic-devices",
        "entity-category",
        "entity-device-class",
        "entity-disabled-by-default",
        "entity-translations",
        "exception-translations",
        "icon-translations",
        "reconfiguration-flow",
        "repair-issues",
        "stale-devices",
    ],
    "platinum": ["async-dependency", "inject-websession", "strict-typing"],
}

HACS_KEYS = {
    "name",
    "content_in_root",
    "zip_release",
    "filename",
    "hide_default_branch",
    "country",
    "homeassistant",
    "hacs",
    "persistent_directory",
    "render_readme",
}

TRANSLATION_TOP = {
    "title",
    "config",
    "options",
    "entity",
    "exceptions",
    "services",
    "selector",
    "device_automation",
    "issues",
    "system_health",
    "common",
}
STEP_KEYS = {
    "title",
    "description",
    "data",
    "data_description",
    "sections",
    "menu_options",
    "submit",
    "menu_option_descriptions",
}
ENTITY_PLATFORMS = {
    "binary_sensor",
    "button",
    "event",
    "image",
    "light",
    "number",
    "select",
    "sensor",
    "switch",
    "update",
    "text",
    "time",
    "date",
    "datetime",
    "fan",
    "climate",
    "camera",
    "valve",
    "cover",
    "lock",
    "siren",
    "vacuum",
}
ICON_RE = re.compile(r"^mdi:[a-z0-9-]+$")
PLACEHOLDER_RE = re.compile(r"{(\w+)}")


class Report:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def error(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")


# --- helpers ------------------------------------------------------------------


def load_json(path: Path, report: Report) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        report.error(str(path), "missing")
    except ValueError as err:
        report.error(str(path), f"invalid JSON: {err}")
    return None


class _BlueprintLoader(yaml.SafeLoader):  # type: ignore[misc]
    """SafeLoader that understands Home Assistant's !input tag."""


def _input_tag(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    return {"__input__": loader.construct_scalar(node)}


_BlueprintLoader.add_constructor("!input", _input_tag)


def load_yaml(path: Path, report: Report, loader: type[yaml.SafeLoader] = yaml.SafeLoader) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506
    except FileNotFoundError:
        report.error(str(path), "missing")
    except yaml.YAMLError as err:
        report.error(str(path), f"invalid YAML: {err}")
    return None


def python_strings(component: Path, keyword: str) -> Iterator[tuple[str, str]]:
    """(file, value) of every ``keyword="literal"`` argument in the integration's code."""
    for source in sorted(component.glob("*.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.keyword)
                and node.arg == keyword
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                yield source.name, node.value.value


def parse_version(value: str) -> bool:
    try:
        from awesomeversion import AwesomeVersion, AwesomeVersionStrategy
    except ImportError:  # pragma: no cover - awesomeversion ships with Home Assistant
        return bool(re.fullmatch(r"\d+(\.\d+){1,2}([.-]?\w+)?", value))
    return AwesomeVersion(value).strategy in (
        AwesomeVersionStrategy.SEMVER,
        AwesomeVersionStrategy.CALVER,
        AwesomeVersionStrategy.SIMPLEVER,
        AwesomeVersionStrategy.PEP440,
    )


def png_size(path: Path) -> tuple[int, int] | None:
    data = path.read_bytes()[:24]
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# --- checks -------------------------------------------------------------------


def check_manifest(root: Path, component: Path, report: Report) -> dict[str, Any]:
    where = "manifest.json"
    manifest = load_json(component / "manifest.json", report)
    if not isinstance(manifest, dict):
        return {}
    keys = list(manifest)
    for key in sorted(MANIFEST_REQUIRED - set(keys)):
        report.error(where, f"missing required key {key!r}")
    for key in sorted(set(keys) - MANIFEST_KEYS):
        report.error(where, f"unknown key {key!r}")
    expected_order = ["domain", "name", *sorted(k for k in keys if k not in ("domain", "name"))]
    if keys != expected_order:
        report.error(
            where, f"keys must be sorted domain, name, then alphabetically: {expected_order}"
        )
    if manifest.get("domain") != component.name:
        report.error(where, f"domain {manifest.get('domain')!r} != directory {component.name!r}")
    for key in ("documentation", "issue_tracker"):
        url = manifest.get(key, "")
        if not isinstance(url, str) or not re.match(r"https?://", url):
            report.error(where, f"{key} must be an http(s) URL")
    if "home-assistant.io/integrations" in str(manifest.get("documentation", "")):
        report.error(where, "documentation must not point to home-assistant.io/integrations")
    if not isinstance(manifest.get("version"), str) or not parse_version(manifest["version"]):
        report.error(where, "version must be a SemVer/CalVer string")
    if manifest.get("iot_class") not in IOT_CLASSES:
        report.error(where, f"iot_class must be one of {sorted(IOT_CLASSES)}")
    if manifest.get("integration_type", "hub") not in INTEGRATION_TYPES:
        report.error(where, f"integration_type must be one of {sorted(INTEGRATION_TYPES)}")
    owners = manifest.get("codeowners")
    if (
        not isinstance(owners, list)
        or not owners
        or not all(isinstance(o, str) and o.startswith("@") for o in owners)
    ):
        report.error(where, "codeowners must be a non-empty list of @handles")
    for key in ("dependencies", "after_dependencies", "loggers", "requirements", "zeroconf"):
        if key in manifest and not isinstance(manifest[key], list):
            report.error(where, f"{key} must be a list")
    for entry in manifest.get("zeroconf", []):
        service = (
            entry
            if isinstance(entry, str)
            else entry.get("type")
            if isinstance(entry, dict)
            else None
        )
        if not isinstance(service, str) or not re.fullmatch(
            r"_[a-z0-9-]+\._(tcp|udp)\.local\.", service
        ):
            report.error(where, f"bad zeroconf type {entry!r}")
    if manifest.get("config_flow") and not (component / "config_flow.py").exists():
        report.error(where, "config_flow is true but config_flow.py is missing")
    init = (
        (component / "__init__.py").read_text(encoding="utf-8")
        if (component / "__init__.py").exists()
        else ""
    )
    if "async def async_setup(" in init and "CONFIG_SCHEMA" not in init:
        report.error("__init__.py", "async_setup exists, so a CONFIG_SCHEMA is required")
    if manifest.get("quality_scale") in ("silver", "gold", "platinum") and not owners:
        report.error(where, "quality_scale >= silver needs codeowners")
    return manifest


def check_translation_shape(name: str, data: Any, report: Report) -> None:
    if not isinstance(data, dict):
        report.error(name, "must be a JSON object")
        return
    for key in data:
        if key not in TRANSLATION_TOP:
            report.error(name, f"unknown top-level key {key!r}")

    def strings(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                strings(value, f"{path}.{key}")
        elif isinstance(node, str):
            if "[%key:" in node:
                report.error(name, f"{path}: [%key:...%] references only work in core")
            if not node.strip():
                report.error(name, f"{path}: empty string")
        else:
            report.error(name, f"{path}: values must be strings or objects")

    strings(data, "")
    for flow in ("config", "options"):
        for step_id, step in (data.get(flow, {}).get("step", {}) or {}).items():
            for key in step:
                if key not in STEP_KEYS:
                    report.error(name, f"{flow}.step.{step_id}: unknown key {key!r}")
            for field in step.get("data", {}):
                if field not in step.get("data_description", {}):
                    report.error(name, f"{flow}.step.{step_id}: {field!r} has no data_description")
    for platform, entities in data.get("entity", {}).items():
        if platform not in ENTITY_PLATFORMS:
            report.error(name, f"entity.{platform}: unknown platform")
        for key, entity in entities.items():
            if "name" not in entity:
                report.error(name, f"entity.{platform}.{key}: missing name")
    for key, exc in data.get("exceptions", {}).items():
        if set(exc) != {"message"}:
            report.error(name, f"exceptions.{key}: only 'message' is allowed")


def check_translations(component: Path, report: Report) -> dict[str, Any]:
    strings = load_json(component / "strings.json", report)
    english = load_json(component / "translations" / "en.json", report)
    if strings is None or english is None:
        return {}
    if strings != english:
        report.error("translations/en.json", "differs from strings.json (copy strings.json over)")
    check_translation_shape("translations/en.json", english, report)
    for other in sorted((component / "translations").glob("*.json")):
        data = load_json(other, report)
        if other.name != "en.json" and data is not None:
            check_translation_shape(f"translations/{other.name}", data, report)

    # Everything the code references must be translated.
    exceptions = set(english.get("exceptions", {}))
    entity_keys = {key for platform in english.get("entity", {}).values() for key in platform}
    issue_keys = set(english.get("issues", {}))
    for source, key in python_strings(component, "translation_key"):
        if key not in exceptions and key not in entity_keys and key not in issue_keys:
            report.error(source, f"translation_key {key!r} is not in translations")
    config = english.get("config", {})
    errors, aborts = set(config.get("error", {})), set(config.get("abort", {}))
    flow = component / "config_flow.py"
    if flow.exists():
        text = flow.read_text(encoding="utf-8")
        for value in re.findall(r'(?:"base"|CONF_\w+|"\w+")\s*:\s*"(\w+)"', text):
            if value not in errors and not value.isupper():
                report.error("config_flow.py", f"form error {value!r} not in config.error")
        for value in re.findall(r'reason="(\w+)"', text):
            if value not in aborts:
                report.error("config_flow.py", f"abort reason {value!r} not in config.abort")
        for step in re.findall(r"async def async_step_(\w+)\(", text):
            if step in ("zeroconf", "reauth"):
                continue
            section = "options" if step == "init" else "config"
            if step not in english.get(section, {}).get("step", {}):
                report.error("config_flow.py", f"step {step!r} has no {section}.step translation")
    for required in ("already_configured", "reauth_successful", "reconfigure_successful"):
        if required not in aborts:
            report.error("translations/en.json", f"config.abort.{required} missing")
    # Placeholders of exception messages must be passed by the code (checked loosely).
    for key, exc in english.get("exceptions", {}).items():
        for placeholder in PLACEHOLDER_RE.findall(exc.get("message", "")):
            if not any(
                f'"{placeholder}"' in p.read_text(encoding="utf-8") for p in component.glob("*.py")
            ):
                report.error(
                    "translations/en.json", f"exceptions.{key}: {{{placeholder}}} never passed"
                )
    return dict(english)


def check_services(component: Path, english: dict[str, Any], report: Report) -> set[str]:
    services = load_yaml(component / "services.yaml", report)
    if not isinstance(services, dict):
        report.error("services.yaml", "must be a mapping of actions")
        return set()
    translated = english.get("services", {})
    selectors = english.get("selector", {})
    for name, spec in services.items():
        spec = spec or {}
        if name not in translated:
            report.error("services.yaml", f"{name}: missing services.{name} translation")
            continue
        for key in ("name", "description"):
            if key not in translated[name]:
                report.error("translations/en.json", f"services.{name}: missing {key}")
        fields = spec.get("fields", {}) or {}
        for field, field_spec in fields.items():
            field_tr = translated[name].get("fields", {}).get(field)
            if not field_tr or "name" not in field_tr or "description" not in field_tr:
                report.error(
                    "translations/en.json", f"services.{name}.fields.{field}: name/description"
                )
            selector = (field_spec or {}).get("selector")
            if not isinstance(selector, dict) or len(selector) != 1:
                report.error("services.yaml", f"{name}.{field}: needs exactly one selector")
                continue
            ((kind, options),) = selector.items()
            if kind == "select" and isinstance(options, dict):
                selector_key = options.get("translation_key")
                if not isinstance(selector_key, str):
                    report.error("services.yaml", f"{name}.{field}: select needs a translation_key")
                    continue
                labels = selectors.get(selector_key, {}).get("options", {})
                for option in options.get("options", []):
                    if option not in labels:
                        report.error(
                            "translations/en.json",
                            f"selector.{selector_key}.options.{option} missing",
                        )
        for field in translated[name].get("fields", {}):
            if field not in fields:
                report.error(
                    "translations/en.json", f"services.{name}.fields.{field}: not in services.yaml"
                )
    for name in translated:
        if name not in services:
            report.error("translations/en.json", f"services.{name}: not in services.yaml")
    registered: set[str] = set()
    source = component / "services.py"
    if source.exists():
        registered = set(re.findall(r'^\s*\(\s*"(\w+)",', source.read_text(encoding="utf-8"), re.M))
        for name in sorted(registered ^ set(services)):
            report.error("services.py", f"action {name!r}: registered and services.yaml differ")
    return set(services)


def check_icons(
    component: Path, english: dict[str, Any], services: set[str], report: Report
) -> None:
    icons = load_json(component / "icons.json", report)
    if not isinstance(icons, dict):
        return
    for key in icons:
        if key not in ("entity", "services"):
            report.error("icons.json", f"unknown top-level key {key!r}")
    translated_entities = english.get("entity", {})
    for platform, entities in icons.get("entity", {}).items():
        for key, spec in entities.items():
            if key not in translated_entities.get(platform, {}):
                report.error("icons.json", f"entity.{platform}.{key}: no such translated entity")
            if "default" not in spec or not ICON_RE.match(spec["default"]):
                report.error("icons.json", f"entity.{platform}.{key}: needs an mdi: default")
            for extra in set(spec) - {"default", "state", "range", "state_attributes"}:
                report.error("icons.json", f"entity.{platform}.{key}: unknown key {extra!r}")
            for state, icon in spec.get("state", {}).items():
                if not ICON_RE.match(icon):
                    report.error("icons.json", f"entity.{platform}.{key}.state.{state}: bad icon")
    for name in services:
        icon = icons.get("services", {}).get(name, {}).get("service")
        if not isinstance(icon, str) or not ICON_RE.match(icon):
            report.error("icons.json", f"services.{name}: needs an mdi: service icon")
    for name in icons.get("services", {}):
        if name not in services:
            report.error("icons.json", f"services.{name}: not in services.yaml")


def check_triggers(component: Path, english: dict[str, Any], report: Report) -> None:
    const = component / "const.py"
    if not const.exists():
        return
    text = const.read_text(encoding="utf-8")
    translated = english.get("device_automation", {}).get("trigger_type", {})
    names: set[str] = set()
    for tuple_name in ("PRINTER_TRIGGERS", "FARM_TRIGGERS"):
        match = re.search(rf"{tuple_name}: Final = \(([^)]*)\)", text, re.S)
        if match:
            names |= set(re.findall(r'"(\w+)"', match.group(1)))
    for name in sorted(names - set(translated)):
        report.error("translations/en.json", f"device_automation.trigger_type.{name} missing")
    event_states = (
        english.get("entity", {})
        .get("event", {})
        .get("printer_event", {})
        .get("state_attributes", {})
        .get("event_type", {})
        .get("state", {})
    )
    match = re.search(r"PRINTER_TRIGGERS: Final = \(([^)]*)\)", text, re.S)
    for name in re.findall(r'"(\w+)"', match.group(1)) if match else []:
        if name not in event_states:
            report.error(
                "translations/en.json", f"event type {name!r} of printer_event untranslated"
            )


def check_quality_scale(component: Path, report: Report) -> None:
    data = load_yaml(component / "quality_scale.yaml", report)
    if not isinstance(data, dict) or not isinstance(data.get("rules"), dict):
        report.error("quality_scale.yaml", "needs a 'rules' mapping")
        return
    rules = data["rules"]
    known = {rule for tier in QUALITY_RULES.values() for rule in tier}
    for rule in sorted(known - set(rules)):
        report.error("quality_scale.yaml", f"rule {rule!r} missing")
    for rule in sorted(set(rules) - known):
        report.error("quality_scale.yaml", f"unknown rule {rule!r}")
    for rule, value in rules.items():
        status = value.get("status") if isinstance(value, dict) else value
        if status not in ("done", "exempt", "todo"):
            report.error("quality_scale.yaml", f"{rule}: status must be done, todo or exempt")
        elif status == "todo" and not (isinstance(value, dict) and value.get("comment")):
            report.error(
                "quality_scale.yaml", f"{rule}: still todo (a todo rule must say what is missing)"
            )
        elif status == "exempt" and not (isinstance(value, dict) and value.get("comment")):
            report.error("quality_scale.yaml", f"{rule}: exempt needs a comment")


def check_brand(component: Path, report: Report) -> None:
    expected = {"icon.png": (256, 256), "icon@2x.png": (512, 512)}
    for name, size in expected.items():
        path = component / "brand" / name
        if not path.exists():
            report.error("brand", f"{name} missing")
        elif png_size(path) != size:
            report.error("brand", f"{name} must be a {size[0]}x{size[1]} PNG")
    for path in sorted((component / "brand").glob("*")):
        if path.suffix != ".png":
            report.error("brand", f"{path.name}: only PNG files belong here")


def check_hacs(root: Path, manifest: dict[str, Any], report: Report) -> None:
    data = load_json(root / "hacs.json", report)
    if not isinstance(data, dict):
        return
    for key in sorted(set(data) - HACS_KEYS):
        report.error("hacs.json", f"unknown key {key!r}")
    if not isinstance(data.get("name"), str) or not data["name"]:
        report.error("hacs.json", "name is required")
    for key in (
        "content_in_root",
        "zip_release",
        "hide_default_branch",
        "render_readme",
        "persistent_directory",
    ):
        if key in data and not isinstance(
            data[key], bool if key != "persistent_directory" else str
        ):
            report.error("hacs.json", f"{key} has the wrong type")
    if data.get("zip_release") and not data.get("filename"):
        report.error("hacs.json", "zip_release needs filename")
    for key in ("homeassistant", "hacs"):
        if key in data and (not isinstance(data[key], str) or not parse_version(data[key])):
            report.error("hacs.json", f"{key} must be a version string")
    if data.get("content_in_root"):
        report.error(
            "hacs.json", "content_in_root is true but the integration is in custom_components/"
        )
    if not (root / "README.md").exists():
        report.error("README.md", "HACS needs a README at the repository root")
    for key in ("domain", "documentation", "issue_tracker", "codeowners", "name", "version"):
        if key not in manifest:
            report.error("manifest.json", f"HACS requires {key!r}")


def check_blueprints(root: Path, report: Report) -> None:
    for path in sorted((root / "blueprints").rglob("*.yaml")):
        data = load_yaml(path, report, _BlueprintLoader)
        where = str(path.relative_to(root))
        if not isinstance(data, dict) or "blueprint" not in data:
            report.error(where, "not a blueprint")
            continue
        meta = data["blueprint"]
        for key in ("name", "domain", "input"):
            if key not in meta:
                report.error(where, f"blueprint.{key} missing")
        declared = set(meta.get("input", {}))
        used = set(re.findall(r"!input\s+(\w+)", path.read_text(encoding="utf-8")))
        for name in sorted(used - declared):
            report.error(where, f"!input {name} is not declared")
        for name in sorted(declared - used):
            report.error(where, f"input {name} is never used")


def validate(root: Path, index: IndexLookup = pypi_has) -> list[str]:
    """Every problem found; `index` answers whether the package index has a requirement."""
    report = Report()
    component = root / "custom_components" / DOMAIN
    if not component.is_dir():
        return [f"{component}: missing"]
    manifest = check_manifest(root, component, report)
    english = check_translations(component, report)
    services = check_services(component, english, report)
    check_icons(component, english, services, report)
    check_triggers(component, english, report)
    check_quality_scale(component, report)
    check_brand(component, report)
    check_hacs(root, manifest, report)
    check_blueprints(root, report)
    return report.problems + check_dependencies(root, index=index)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args(argv)
    problems = validate(args.root)
    for problem in problems:
        print(f"ERROR {problem}")
    print(f"validate_ha: {len(problems)} problem(s)" if problems else "validate_ha: OK")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
