#!/usr/bin/env bash
# Run the Home Assistant integration suite (tests/ha) on today's Home Assistant: 2026.10.4 with
# pytest-homeassistant-custom-component 0.13.375, on Python >= 3.14.2.
#
# The interpreter comes from scripts/py314_root.sh: a python3.14 on this machine, or a Debian forky root
# (chroot) cached outside the clone. The virtualenv (the harness, the requirements of the Home Assistant
# components the tests load, and apf-core's own dependencies, all under Home Assistant's
# package_constraints.txt) is cached next to that interpreter and built once per machine. In the chroot case
# the clone is bind-mounted into the root for the run and unmounted afterwards.
#
# Usage: scripts/ha_today.sh [pytest args...]     (defaults: tests/ha -q)
# Environment: APF_HA_TODAY_VENV (virtualenv path; inside the root in the chroot case).
set -euo pipefail
cd "$(dirname "$0")/.."
CLONE=$PWD
HA_VERSION=2026.10.4
HARNESS=0.13.375
# Components the tests set up whose requirements the harness does not install.
HA_COMPONENTS="camera conversation zeroconf http"

log() { printf '%s\n' "$*" >&2; }

PY314=$(bash scripts/py314_root.sh | tail -n 1)
. scripts/_cache.sh
if [[ "$PY314" == chroot:* ]]; then
  ROOT=${PY314#chroot:}
  VENV=${APF_HA_TODAY_VENV:-/opt/ha-$HA_VERSION}   # inside the root
  LOCK=$ROOT/.ha-$HA_VERSION.lock
  MNT=/mnt/apf-$(basename "$CLONE")-$$
  mkdir -p "$ROOT$MNT"
  mount --bind "$CLONE" "$ROOT$MNT"
  trap 'umount "$ROOT$MNT" && rmdir "$ROOT$MNT"' EXIT
  run() { chroot "$ROOT" env -C "$MNT" HOME=/root PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
            SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt "$@"; }
  BASE_PY=python3.14
  WORK=$MNT
else
  VENV=${APF_HA_TODAY_VENV:-$(apf_cache_dir)/ha-$HA_VERSION}
  mkdir -p "$(apf_cache_dir)"
  LOCK=$(apf_cache_dir)/.ha-$HA_VERSION.lock
  run() { "$@"; }
  BASE_PY=$PY314
  WORK=$CLONE
fi
PY=$VENV/bin/python
# the marker names what was installed: a changed component list rebuilds the venv
READY=$VENV/.apf-ready-$HARNESS-$(printf %s "$HA_COMPONENTS" | md5sum | cut -c1-8)

exec 9>"$LOCK"
flock 9   # one build at a time when several clones start together
if ! run test -f "$READY"; then
  log "building the Home Assistant $HA_VERSION virtualenv in $VENV (once per machine)"
  run test -x "$PY" || run "$BASE_PY" -m venv "$VENV"
  PIP=("$PY" -m pip --disable-pip-version-check -q)
  run "${PIP[@]}" install "pytest-homeassistant-custom-component==$HARNESS"
  CONSTRAINTS=$(run "$PY" -c 'import homeassistant, pathlib; print(pathlib.Path(homeassistant.__file__).parent / "package_constraints.txt")')
  run "$PY" -c 'import homeassistant.const as c, sys; sys.exit(c.__version__ != sys.argv[1])' "$HA_VERSION"
  # The requirements of the components the tests load, and apf-core's dependencies (tests/ha/test_e2e.py
  # runs the real server; the clone itself is on the path, not installed).
  REQS=$(run "$PY" - "$HA_COMPONENTS" <<'PYEOF'
import json, pathlib, sys, tomllib
import homeassistant.components as components
base = pathlib.Path(components.__path__[0])
reqs = []
for name in sys.argv[1].split():
    reqs += json.loads((base / name / "manifest.json").read_text()).get("requirements", [])
reqs += tomllib.loads(pathlib.Path("pyproject.toml").read_text())["project"]["dependencies"]
print("\n".join(reqs))
PYEOF
)
  # shellcheck disable=SC2086
  run "${PIP[@]}" install -c "$CONSTRAINTS" $REQS
  run touch "$READY"
fi
flock -u 9

[ $# -gt 0 ] || set -- tests/ha -q
log "Home Assistant $HA_VERSION: pytest $*"
run "$PY" -m pytest -p no:cacheprovider --basetemp="/tmp/pt-ha-today-$$" "$@"
