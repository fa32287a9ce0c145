"""List the import cycles between apf_core modules (module-level imports, TYPE_CHECKING excluded).

Usage: python scripts/import_cycles.py  -> prints each cycle; exit status 1 when there is one.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "apf_core"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, name: str) -> set[str]:
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in tree.body:  # module level only: imports inside functions are deferred
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base.startswith("apf_core"):
                # "from pkg import module" depends on the module; "from pkg import name" on pkg
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    where = ROOT.parent / sub.replace(".", "/")
                    is_module = where.with_suffix(".py").exists() or where.is_dir()
                    found.add(sub if is_module else base)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("apf_core"))
    return found


def main() -> int:
    files = {module_name(p): p for p in ROOT.rglob("*.py") if "migrations" not in p.parts}
    graph = {n: {i for i in imports(p, n) if i in files and i != n} for n, p in files.items()}
    cycles: set[tuple[str, ...]] = set()
    for start in graph:
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in graph[node]:
                if nxt == start and len(path) > 1:
                    i = path.index(min(path))
                    cycles.add(tuple(path[i:] + path[:i]))
                elif nxt not in path and nxt > start and len(path) < 6:
                    stack.append((nxt, [*path, nxt]))
    for cycle in sorted(cycles):
        print(" -> ".join([*cycle, cycle[0]]))
    print(f"{len(cycles)} import cycles")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main())
