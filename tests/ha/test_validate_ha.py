"""scripts/validate_ha.py passes on the repository and catches broken metadata."""

from __future__ import annotations

import importlib.util
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "validate_ha", ROOT / "scripts" / "validate_ha.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


validate_ha = _load()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    shutil.copytree(
        ROOT / "custom_components",
        tmp_path / "custom_components",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copytree(ROOT / "blueprints", tmp_path / "blueprints")
    for name in ("hacs.json", "pyproject.toml", "README.md"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "README.md").touch()
    return tmp_path


def component(repo: Path) -> Path:
    return repo / "custom_components" / "autoprintfarm"


def edit_json(path: Path, change: Callable[[dict], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


def edit_translations(repo: Path, change: Callable[[dict], None]) -> None:
    """Change strings.json and translations/en.json alike."""
    edit_json(component(repo) / "strings.json", change)
    edit_json(component(repo) / "translations" / "en.json", change)


def test_repository_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert validate_ha.main(["--root", str(ROOT)]) == 0
    assert "validate_ha: OK" in capsys.readouterr().out


def test_copy_is_valid(repo: Path) -> None:
    assert validate_ha.validate(repo) == []


def _manifest_breaks(data: dict) -> None:
    data["bogus"] = 1
    data["version"] = "not a version!"
    data["requirements"] = ["somepkg>=0.1", "aiohttp==3.11.16"]
    del data["issue_tracker"]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda r: edit_json(component(r) / "manifest.json", _manifest_breaks),
            [
                "unknown key 'bogus'",
                "version must be",
                "pinned with ==",
                "shipped by Home Assistant",
                "missing required key 'issue_tracker'",
                "HACS requires 'issue_tracker'",
            ],
        ),
        (
            lambda r: edit_json(component(r) / "manifest.json", lambda d: d.update(domain="other")),
            ["domain 'other' != directory"],
        ),
        (
            lambda r: (component(r) / "manifest.json").write_text(
                json.dumps(
                    dict(reversed(json.loads((component(r) / "manifest.json").read_text()).items()))
                )
            ),
            ["keys must be sorted"],
        ),
        (
            lambda r: edit_json(
                component(r) / "translations" / "en.json", lambda d: d["services"].pop("get_queue")
            ),
            ["differs from strings.json", "get_queue: missing services.get_queue translation"],
        ),
        (
            lambda r: edit_translations(r, lambda d: d["entity"]["sensor"].pop("progress")),
            [
                "translation_key 'progress' is not in translations",
                "entity.sensor.progress: no such",
            ],
        ),
        (
            lambda r: edit_json(
                component(r) / "icons.json", lambda d: d["services"].pop("clear_bed")
            ),
            ["services.clear_bed: needs an mdi: service icon"],
        ),
        (
            lambda r: (component(r) / "services.yaml").write_text(
                (component(r) / "services.yaml").read_text() + "\nundocumented:\n  fields: {}\n"
            ),
            [
                "undocumented: missing services.undocumented translation",
                "action 'undocumented': registered and services.yaml differ",
            ],
        ),
        (
            lambda r: (component(r) / "quality_scale.yaml").write_text(
                "rules:\n  action-setup: todo\n  repair-issues: exempt\n  made-up: done\n"
            ),
            [
                "action-setup: still todo",
                "repair-issues: exempt needs a comment",
                "unknown rule 'made-up'",
                "rule 'strict-typing' missing",
            ],
        ),
        (
            lambda r: (r / "hacs.json").write_text('{"zip_release": true, "homeassistant": 2025}'),
            [
                "name is required",
                "zip_release needs filename",
                "homeassistant must be a version string",
            ],
        ),
        (
            lambda r: (component(r) / "brand" / "icon.png").write_bytes(b"GIF89a"),
            ["icon.png must be a 256x256 PNG"],
        ),
        (
            lambda r: edit_translations(
                r, lambda d: d["device_automation"]["trigger_type"].pop("print_failed")
            ),
            ["device_automation.trigger_type.print_failed missing"],
        ),
        (
            lambda r: (
                r / "blueprints/automation/autoprintfarm/notify_print_failed.yaml"
            ).write_text(
                "blueprint:\n  name: x\n  domain: automation\n  input:\n    unused: {}\n"
                "actions:\n  - action: !input missing\n"
            ),
            ["!input missing is not declared", "input unused is never used"],
        ),
    ],
    ids=[
        "manifest",
        "domain",
        "order",
        "translations",
        "entity-key",
        "icons",
        "services",
        "quality-scale",
        "hacs",
        "brand",
        "triggers",
        "blueprint",
    ],
)
def test_detects_problems(
    repo: Path, mutate: Callable[[Path], object], expected: list[str]
) -> None:
    mutate(repo)
    problems = "\n".join(validate_ha.validate(repo))
    for text in expected:
        assert text in problems
    assert validate_ha.main(["--root", str(repo)]) == 1
