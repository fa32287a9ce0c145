"""scripts/validate_ha_deps.py: requirements must exist on the index and fit HA's constraints;
the integration and its bundled client import only what a stock Home Assistant has."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "validate_ha_deps", ROOT / "scripts" / "validate_ha_deps.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("validate_ha_deps", module)
    spec.loader.exec_module(module)
    return module


deps = _load()

# What the fake index holds: (name, version).
ON_INDEX = {("pybambu", "1.0.1"), ("orjson", "3.10.16"), ("orjson", "3.9.0")}


def fake_index(name: str, version: str) -> bool:
    return (name.lower(), version) in ON_INDEX


def offline_index(name: str, version: str) -> bool:
    raise OSError("network unreachable")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    shutil.copytree(
        ROOT / "custom_components",
        tmp_path / "custom_components",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    (tmp_path / "constraints.txt").write_text(
        "# Automatically generated\norjson==3.10.16\naiohttp==3.11.16\n"
        "pycryptodome>=3.6.6\nuv==0.6.10\n-c other.txt\n"
    )
    return tmp_path


def set_requirements(repo: Path, requirements: list[str]) -> None:
    path = repo / "custom_components" / "autoprintfarm" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["requirements"] = requirements
    path.write_text(json.dumps(manifest))


def check(repo: Path, index: object = fake_index) -> str:
    return "\n".join(deps.check_dependencies(repo, repo / "constraints.txt", index))


def test_repository_has_no_requirement_and_clean_imports() -> None:
    manifest = json.loads((ROOT / "custom_components/autoprintfarm/manifest.json").read_text())
    assert manifest["requirements"] == []
    assert deps.check_dependencies(ROOT, index=offline_index) == []


def test_a_good_requirement_passes(repo: Path) -> None:
    set_requirements(repo, ["pybambu==1.0.1", "orjson==3.10.16"])
    assert check(repo) == ""


@pytest.mark.parametrize(
    ("requirements", "expected"),
    [
        (["apf-core==0.1.0"], "built from this repository and not on the package index"),
        (["not-published-anywhere==1.0"], "is not on the package index"),
        (["orjson==3.9.0"], "conflicts with Home Assistant's constraint orjson==3.10.16"),
        (["pybambu>=1.0"], "must be pinned with =="),
        (["aiohttp==3.11.16"], "shipped by Home Assistant itself"),
        (["not a requirement!"], "is not a valid requirement"),
    ],
    ids=["own-package", "missing", "conflict", "unpinned", "ha-ships-it", "invalid"],
)
def test_bad_requirements_fail(repo: Path, requirements: list[str], expected: str) -> None:
    set_requirements(repo, requirements)
    assert expected in check(repo)


def test_an_unreachable_index_is_a_problem_not_a_pass(repo: Path) -> None:
    set_requirements(repo, ["pybambu==1.0.1"])
    assert "could not ask the package index (network unreachable)" in check(repo, offline_index)


def test_imports_outside_ha_and_stdlib_fail(repo: Path) -> None:
    component = repo / "custom_components" / "autoprintfarm"
    (component / "extra.py").write_text("import apf_core.config\nfrom sqlalchemy import text\n")
    problems = check(repo)
    assert "extra.py:1: imports 'apf_core.config'" in problems
    assert "extra.py:2: imports 'sqlalchemy'" in problems


def test_a_requirement_makes_its_import_allowed(repo: Path) -> None:
    component = repo / "custom_components" / "autoprintfarm"
    (component / "extra.py").write_text("import pybambu\n")
    assert "extra.py" in check(repo)
    set_requirements(repo, ["pybambu==1.0.1"])
    assert check(repo) == ""


def test_the_bundled_client_imports_only_aiohttp_yarl_and_stdlib(repo: Path) -> None:
    client = repo / "custom_components" / "autoprintfarm" / "apf_client"
    (client / "extra.py").write_text(
        "import homeassistant.core\nimport voluptuous\nimport yarl\nimport aiohttp\nimport json\n"
    )
    problems = check(repo)
    assert "apf_client/extra.py:1: imports 'homeassistant.core'" in problems
    assert "apf_client/extra.py:2: imports 'voluptuous'" in problems
    assert "extra.py:3" not in problems and "extra.py:4" not in problems
    assert "extra.py:5" not in problems


def test_pypi_lookup_treats_404_as_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    import urllib.error

    def not_found(url: str, timeout: float) -> object:
        raise urllib.error.HTTPError(url, 404, "Not Found", None, None)  # type: ignore[arg-type]

    monkeypatch.setattr(deps.urllib.request, "urlopen", not_found)
    assert deps.pypi_has("apf-core", "0.1.0") is False
