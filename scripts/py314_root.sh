#!/usr/bin/env bash
# Print the path of a Python >= 3.14.2 interpreter command for today's Home Assistant, building one if needed.
#
# Home Assistant 2026.3+ needs Python >= 3.14.2. Where the machine has one (APF_PY314, or python3.14 on the
# PATH), it is used as is. Otherwise a Debian forky root is made with debootstrap (as root) under
# APF_CACHE (default /var/cache/apf), and python3.14 runs inside it through `chroot`. The root is built once
# per machine and reused by every clone (docs/home-assistant.md, "Testing").
#
# Output (stdout, last line): either a plain interpreter path, or "chroot:<root>" for the forky root.
set -euo pipefail

CACHE="${APF_CACHE:-/var/cache/apf}"
ROOT="$CACHE/forky"

log() { printf '%s\n' "$*" >&2; }

good_python() {  # $1: interpreter command; succeeds when it is >= 3.14.2
  "$@" -c 'import sys; sys.exit(sys.version_info < (3, 14, 2))' 2>/dev/null
}

for candidate in "${APF_PY314:-}" python3.14 /usr/local/bin/python3.14 "$HOME"/.pyenv/versions/3.14*/bin/python3.14; do
  [ -n "$candidate" ] || continue
  if command -v "$candidate" >/dev/null 2>&1 && good_python "$candidate"; then
    command -v "$candidate"; exit 0
  fi
done

if [ "$(id -u)" != 0 ]; then
  log "no Python >= 3.14.2 here and not root, so no forky root can be built: set APF_PY314"
  exit 1
fi

mount_root() {  # idempotent bind mounts the chroot needs
  mountpoint -q "$ROOT/proc" || mount --bind /proc "$ROOT/proc"
  mountpoint -q "$ROOT/dev" || mount --bind /dev "$ROOT/dev"
  cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
  mkdir -p "$ROOT/etc/ssl/certs"
  cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"
}

if [ -f "$ROOT/.apf-ready" ] && [ -x "$ROOT/usr/bin/python3.14" ]; then
  mount_root
  echo "chroot:$ROOT"; exit 0
fi

log "building a Debian forky root with python3.14 in $ROOT (once per machine, a few minutes)"
command -v debootstrap >/dev/null 2>&1 || { apt-get update -qq; apt-get install -y -qq debootstrap >&2; }
mkdir -p "$CACHE"
# A half-built root from an interrupted run is discarded.
for m in proc dev; do mountpoint -q "$ROOT/$m" 2>/dev/null && umount "$ROOT/$m"; done
rm -rf "$ROOT"
debootstrap --variant=minbase forky "$ROOT" "" /usr/share/debootstrap/scripts/sid >&2
mount_root
APT=(chroot "$ROOT" apt-get -o Acquire::Check-Valid-Until=false -qq)
"${APT[@]}" update >&2
DEBIAN_FRONTEND=noninteractive "${APT[@]}" install -y python3.14 python3.14-venv ca-certificates >&2
cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"  # the package replaced it
chroot "$ROOT" python3.14 -c 'import sys; assert sys.version_info >= (3, 14, 2), sys.version' >&2
touch "$ROOT/.apf-ready"
echo "chroot:$ROOT"
