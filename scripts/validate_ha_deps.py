#!/usr/bin/env python3
"""Dependency checks for custom_components/autoprintfarm: what Home Assistant would have to install.

HACS copies only the integration folder, and Home Assistant installs the manifest's
`requirements` by itself. So:
- every requirement must be pinned, exist on the package index (PyPI) in that version, and fit
  Home Assistant's `package_constraints.txt`; a package built from this repository (apf-core) is
  refused: it is not published, and an unclaimed name that Home Assistant installs is a
  supply-chain hole;
- the integration imports only itself, Home Assistant, the standard library and what Home Assistant
  ships (aiohttp, yarl, voluptuous) or its requirements;
- the bundled API client (apf_client/) imports only itself, the standard library, aiohttp and yarl.

Usage: python scripts/validate_ha_deps.py [--root REPO] [--constraints FILE]
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

DOMAIN = "autoprintfarm"
CLIENT = "apf_client"
# Built from this repository and not published: never a requirement.
OWN_PACKAGES = {"apf-core"}
# Importable by the integration without a requirement (Home Assistant itself depends on them).
HA_SHIPPED = {"homeassistant", "aiohttp", "yarl", "voluptuous"}
CLIENT_ALLOWED = {"aiohttp", "yarl"}
PYPI = "https://pypi.org/pypi/{name}/{version}/json"

# (name, version) -> True if the index has it, False if not; raises OSError when it cannot tell.
type IndexLookup = Callable[[str, str], bool]


def pypi_has(name: str, version: str) -> bool:
    url = PYPI.format(name=canonicalize_name(name), version=version)
    try:
        with urllib.request.urlopen(url, timeout=15) as response:  # noqa: S310 - fixed https URL
            return bool(json.load(response).get("info"))
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return False
        raise


def ha_constraints_file() -> Path | None:
    """package_constraints.txt of the Home Assistant installed next to this interpreter."""
    try:
        import homeassistant
    except ImportError:
        return None
    path = Path(homeassistant.__file__).parent / "package_constraints.txt"
    return path if path.exists() else None


def parse_constraints(path: Path) -> dict[str, list[Requirement]]:
    constraints: dict[str, list[Requirement]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        constraints.setdefault(canonicalize_name(requirement.name), []).append(requirement)
    return constraints


def check_requirements(
    requirements: list[str],
    constraints: dict[str, list[Requirement]] | None,
    index: IndexLookup,
) -> Iterator[str]:
    for text in requirements:
        try:
            requirement = Requirement(text)
        except InvalidRequirement as err:
            yield f"requirement {text!r} is not a valid requirement: {err}"
            continue
        name = canonicalize_name(requirement.name)
        if name in OWN_PACKAGES:
            yield (
                f"requirement {text!r} is built from this repository and not on the package index: "
                "the integration ships its client in apf_client/"
            )
            continue
        if name in HA_SHIPPED:
            yield f"requirement {text!r} is shipped by Home Assistant itself: do not list it"
            continue
        pins = [spec.version for spec in requirement.specifier if spec.operator == "=="]
        if len(pins) != 1:
            yield f"requirement {text!r} must be pinned with == to one version"
            continue
        try:
            version = Version(pins[0])
        except InvalidVersion:
            yield f"requirement {text!r} has an invalid version"
            continue
        if constraints is None:
            yield f"requirement {text!r}: Home Assistant's package_constraints.txt was not found"
        else:
            for constraint in constraints.get(name, []):
                if constraint.marker is not None:
                    continue
                if not constraint.specifier.contains(version, prereleases=True):
                    yield (
                        f"requirement {text!r} conflicts with Home Assistant's constraint "
                        f"{constraint}"
                    )
        try:
            if not index(requirement.name, pins[0]):
                yield f"requirement {text!r} is not on the package index"
        except OSError as err:
            yield f"requirement {text!r}: could not ask the package index ({err})"


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """(line, top-level module) of every absolute import in a source file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def check_imports(component: Path, requirements: list[str]) -> Iterator[str]:
    stdlib = set(sys.stdlib_module_names)
    required = set()
    for text in requirements:
        try:
            required.add(canonicalize_name(Requirement(text).name).replace("-", "_"))
        except InvalidRequirement:
            continue
    own = f"custom_components.{component.name}"
    for source in sorted(component.rglob("*.py")):
        relative = source.relative_to(component)
        in_client = relative.parts[0] == CLIENT
        allowed = stdlib | (CLIENT_ALLOWED if in_client else HA_SHIPPED | required)
        for line, module in imported_modules(source):
            top = module.split(".")[0]
            is_own = module == own or module.startswith(own + ".")
            if top in allowed or (is_own and not in_client):
                continue
            what = "the bundled client may import only aiohttp, yarl and the standard library"
            if not in_client:
                what = "not Home Assistant, the standard library, the integration or a requirement"
            yield f"{relative}:{line}: imports {module!r} ({what})"


def check_dependencies(
    root: Path,
    constraints_file: Path | None = None,
    index: IndexLookup = pypi_has,
) -> list[str]:
    component = root / "custom_components" / DOMAIN
    try:
        manifest = json.loads((component / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        return [f"manifest.json: cannot read ({err})"]
    requirements = [str(r) for r in manifest.get("requirements", []) if isinstance(r, str)]
    constraints_file = constraints_file or ha_constraints_file()
    constraints = parse_constraints(constraints_file) if constraints_file else None
    problems = [f"manifest.json: {p}" for p in check_requirements(requirements, constraints, index)]
    problems += check_imports(component, requirements)
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--constraints", type=Path, help="Home Assistant's package_constraints.txt")
    args = parser.parse_args(argv)
    problems = check_dependencies(args.root, args.constraints)
    for problem in problems:
        print(f"ERROR {problem}")
    print(f"validate_ha_deps: {len(problems)} problem(s)" if problems else "validate_ha_deps: OK")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
