#!/usr/bin/env bash
# Install the OctoPrint test peer (printer-protocols.md §1.6) into <cache>/peers/octoprint (scripts/_cache.sh).
# Idempotent: does nothing when the pinned version is already installed.
# Override the interpreter with OCTOPRINT_PYTHON=/path/to/python3.11.
set -euo pipefail

OCTOPRINT_VERSION="1.11.8"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
. "$REPO_ROOT/scripts/_cache.sh"
PEERS_DIR="$(apf_peers_dir)"
VENV="$PEERS_DIR/octoprint"

pick_python() {
  if [[ -n "${OCTOPRINT_PYTHON:-}" ]]; then echo "$OCTOPRINT_PYTHON"; return; fi
  for candidate in /root/.pyenv/versions/3.11.7/bin/python python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then echo "$candidate"; return; fi
  done
  echo "no python interpreter found" >&2
  exit 1
}

mkdir -p "$PEERS_DIR"

if [[ -x "$VENV/bin/octoprint" ]] && \
   [[ "$("$VENV/bin/python" -c 'import octoprint; print(octoprint.__version__)' 2>/dev/null)" == "$OCTOPRINT_VERSION" ]]; then
  echo "octoprint $OCTOPRINT_VERSION already installed in $VENV"
  exit 0
fi

PYTHON="$(pick_python)"
echo "creating $VENV with $PYTHON"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install --quiet --upgrade pip
"$VENV/bin/pip" install --quiet "octoprint==$OCTOPRINT_VERSION"
"$VENV/bin/python" -c 'import octoprint; print("installed octoprint", octoprint.__version__)'
