"""Layering: the domain (services, dispatch, lifecycle) knows no HTTP. Services raise domain
errors (apf_core.errors); only apf_core.api maps them to statuses and builds URLs."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

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


def _shape_check() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "shape_check", ROOT.parent / "scripts" / "shape_check.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_apf_core_modules_and_functions_stay_small(capsys: pytest.CaptureFixture[str]) -> None:
    """scripts/shape_check.py: no module over 500 lines, no function over 60, unless a
    ``# shape: <reason>`` says why."""
    assert _shape_check().main() == 0, capsys.readouterr().out


def test_shape_check_flags_long_code_without_a_reason(tmp_path: Path) -> None:
    check = _shape_check()
    body = "".join(f"    x{n} = {n}\n" for n in range(61))
    long_def = tmp_path / "long_def.py"
    long_def.write_text(f"def long():\n{body}")
    assert [o.split(": ", 1)[1] for o in check.offenders(long_def)] == ["long has 62 lines (> 60)"]
    excused = tmp_path / "excused.py"
    excused.write_text(f"def long():  # shape: a generated table\n{body}")
    assert check.offenders(excused) == []
    bare_mark = tmp_path / "bare_mark.py"
    bare_mark.write_text(f"def long():  # shape:\n{body}")
    assert len(check.offenders(bare_mark)) == 1  # a mark without a reason does not count
    big = tmp_path / "big.py"
    big.write_text("".join(f"x{n} = {n}\n" for n in range(501)))
    assert [o.split(": ", 1)[1] for o in check.offenders(big)] == ["module has 501 lines (> 500)"]
    big.write_text("# shape: generated\n" + big.read_text())
    assert check.offenders(big) == []
