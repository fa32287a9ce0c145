"""Layering: the domain (services, dispatch, lifecycle) knows no HTTP. Services raise domain
errors (apf_core.errors); only apf_core.api maps them to statuses and builds URLs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "apf_core"
DOMAIN_PACKAGES = ("services", "dispatch", "lifecycle")
FORBIDDEN_MODULES = ("aiohttp", "apf_core.api")
FORBIDDEN_NAMES = {"ApiError", "HTTPException"}


def _resolve(module: str | None, level: int, package: str) -> str:
    if not level:
        return module or ""
    anchor = package.split(".")
    anchor = anchor[: len(anchor) - level + 1]
    return ".".join([*anchor, module] if module else anchor)


def violations(source: str, package: str) -> list[str]:
    """Every import in ``source`` (at any depth, TYPE_CHECKING included) of HTTP machinery."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
            found += [n for n in names if n.startswith(FORBIDDEN_MODULES)]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node.module, node.level, package)
            if base.startswith(FORBIDDEN_MODULES):
                found.append(base)
            found += [f"{base}.{a.name}" for a in node.names if a.name in FORBIDDEN_NAMES]
    return found


def _domain_modules() -> list[Path]:
    return sorted(p for pkg in DOMAIN_PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_the_check_sees_http_imports() -> None:
    package = "apf_core.services"
    assert violations("from aiohttp import web\n", package) == ["aiohttp"]
    assert violations("def f():\n    from ..api.errors import ApiError\n", package) == [
        "apf_core.api.errors",
        "apf_core.api.errors.ApiError",
    ]
    assert violations("import aiohttp.web\n", package) == ["aiohttp.web"]
    assert violations("from ..errors import NotFound\n", package) == []


@pytest.mark.parametrize("path", _domain_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_domain_modules_import_no_http(path: Path) -> None:
    package = ".".join(path.relative_to(ROOT.parent).parts[:-1])
    assert violations(path.read_text(), package) == []


def test_the_domain_packages_exist() -> None:
    assert all(len(list((ROOT / pkg).glob("*.py"))) > 1 for pkg in DOMAIN_PACKAGES)


def test_domain_errors_carry_no_http_status() -> None:
    from apf_core import errors

    kinds = [v for v in vars(errors).values() if isinstance(v, type)]
    kinds = [k for k in kinds if issubclass(k, Exception)]
    assert len(kinds) > 5
    assert not [k.__name__ for k in kinds if hasattr(k, "status")]
    assert "aiohttp" not in Path(errors.__file__).read_text()


def test_apf_core_has_no_import_cycles(capsys: pytest.CaptureFixture[str]) -> None:
    """scripts/import_cycles.py, run by the suite so CI fails on a new cycle."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "import_cycles", ROOT.parent / "scripts" / "import_cycles.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main() == 0, capsys.readouterr().out
    graph_size = len(list(ROOT.rglob("*.py")))
    assert graph_size > 100  # the check walked the real package
