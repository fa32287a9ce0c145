#!/usr/bin/env bash
# Install the OpenAPI SDK generator (openapi-python-client, pinned) into its own venv in the machine-wide
# cache (scripts/_cache.sh: <cache>/sdkgen), apart from the test venv: its pydantic/typer/ruff pins need not
# agree with Home Assistant's constraints. tests/api/test_generated_sdk.py uses it.
# Idempotent: does nothing when the pinned version is already installed (marker file).
set -euo pipefail

GENERATOR_VERSION="0.29.1"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$REPO_ROOT/scripts/_cache.sh"
. "$REPO_ROOT/scripts/_python.sh"
VENV="${APF_SDKGEN_DIR:-$(apf_cache_dir)/sdkgen}"
MARKER="$VENV/.openapi-python-client-$GENERATOR_VERSION"

if [[ -f "$MARKER" && -x "$VENV/bin/openapi-python-client" ]]; then
  echo "openapi-python-client $GENERATOR_VERSION already installed in $VENV"
  exit 0
fi

PYTHON="$(find_python)"
echo "creating $VENV with $PYTHON"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip --disable-pip-version-check -q install "openapi-python-client==$GENERATOR_VERSION"
"$VENV/bin/openapi-python-client" --version
touch "$MARKER"
