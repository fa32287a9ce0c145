"""List the apf_core modules over 500 lines and the functions over 60 lines.

An exemption needs a reason written next to it: a `# shape: <reason>` comment on the def line
(or the line just above it, or on the decorator) for a function, and within the first five
lines of a module for the module.

Usage: python scripts/shape_check.py  -> prints each offender; exit status 1 when there is one.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "apf_core"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60
MARK = "# shape:"


def _has_reason(line: str) -> bool:
    at = line.find(MARK)
    return at >= 0 and bool(line[at + len(MARK) :].strip())


def _function_exempt(lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return any(_has_reason(lines[i - 1]) for i in range(max(1, first - 1), node.lineno + 1))


def offenders(path: Path) -> list[str]:
    text = path.read_text()
    lines = text.splitlines()
    rel = path.relative_to(ROOT.parent) if path.is_relative_to(ROOT.parent) else path
    found: list[str] = []
    if len(lines) > MAX_MODULE_LINES and not any(_has_reason(line) for line in lines[:5]):
        found.append(f"{rel}: module has {len(lines)} lines (> {MAX_MODULE_LINES})")
    for node in ast.walk(ast.parse(text)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        size = (node.end_lineno or node.lineno) - node.lineno + 1
        if size > MAX_FUNCTION_LINES and not _function_exempt(lines, node):
            found.append(
                f"{rel}:{node.lineno}: {node.name} has {size} lines (> {MAX_FUNCTION_LINES})"
            )
    return found


def main() -> int:
    found = [
        o for p in sorted(ROOT.rglob("*.py")) if "migrations" not in p.parts for o in offenders(p)
    ]
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
