"""Peak RSS growth while parsing hostile 3MF/G-code files, next to the goal.

    PYTHONPATH=. python bench/parse_memory.py [--megabytes 135] [--compare /work/main]

Each file is small on disk and inflates to ``--megabytes`` at a ratio under the
200x zip-bomb guard. Every parse runs in a fresh interpreter; growth is VmHWM
minus the RSS after imports. ``--compare DIR`` also runs another checkout's code.
"""

from __future__ import annotations

import argparse
import tempfile
import zipfile
from pathlib import Path

from tests.files.bombs import SHAPES, measure_parse, write_gcode_bomb, write_model_bomb

GOAL_MB = 100


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--megabytes", type=int, default=135)
    parser.add_argument("--compare", default=None, help="another checkout to measure too")
    args = parser.parse_args()
    trees = {"this": str(Path.cwd())}
    if args.compare:
        trees["compare"] = args.compare
    with tempfile.TemporaryDirectory() as work:
        files = {
            name: write_model_bomb(Path(work) / f"{i}.3mf", args.megabytes, shape)
            for i, (name, shape) in enumerate(SHAPES.items())
        }
        files["plate G-code, one long line"] = write_gcode_bomb(Path(work) / "g.3mf", args.megabytes)
        print(f"goal: peak RSS growth < {GOAL_MB} MB per parse\n")
        print(f"{'file':30} {'disk':>7} {'inflated':>9} {'ratio':>5} {'tree':>8} {'RSS +MB':>8} {'s':>6}  outcome")
        for name, path in files.items():
            info = zipfile.ZipFile(path).infolist()[0]
            for tree, root in trees.items():
                result = measure_parse(path, "bomb.3mf", root)
                growth = float(result["growth_mb"])
                mark = "ok" if growth < GOAL_MB else "OVER"
                print(
                    f"{name:30} {path.stat().st_size / 1e6:6.1f}M {info.file_size / 1e6:8.1f}M "
                    f"{info.file_size // info.compress_size:5} {tree:>8} {growth:8.1f} "
                    f"{float(result['seconds']):6.1f}  {mark} {result['outcome']}"
                )


if __name__ == "__main__":
    main()
