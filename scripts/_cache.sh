# Sourced by scripts: where heavy, machine-wide setup is cached (outside any clone, built once per machine).
# APF_CACHE wins; otherwise /var/cache/apf for root, ~/.cache/apf for everyone else.
apf_cache_dir() {
  if [ -n "${APF_CACHE:-}" ]; then echo "$APF_CACHE"
  elif [ "$(id -u)" = 0 ]; then echo /var/cache/apf
  else echo "${XDG_CACHE_HOME:-$HOME/.cache}/apf"
  fi
}
# The printer test peers (OctoPrint, Moonraker + Klippy): APF_PEERS_DIR, or <cache>/peers.
apf_peers_dir() { echo "${APF_PEERS_DIR:-$(apf_cache_dir)/peers}"; }
