# Sourced by scripts/demo and scripts/test: find a Python 3.13 interpreter.
# Honours APF_PYTHON, then python3.13 on PATH, then pyenv's and the usual install locations.
find_python() {
  local c
  for c in "${APF_PYTHON:-}" python3.13 "$HOME"/.pyenv/versions/3.13*/bin/python3.13 /usr/local/bin/python3.13 /usr/bin/python3.13; do
    [ -n "$c" ] || continue
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; then
      command -v "$c"; return 0
    fi
  done
  echo "Python 3.13 not found: install it or set APF_PYTHON" >&2
  return 1
}
