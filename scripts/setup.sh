#!/usr/bin/env bash
# One idempotent set-up step used by both README commands (run-local and run-tests):
#   1. the Debian packages of every real server mesopress uses (skipped when all are installed); with
#      --tests (scripts/run-tests) also what only the tests use: chromium, for the web UI in a real browser;
#   2. a virtualenv in .venv with the pinned Python dependencies;
#   3. pymesos 0.3.15 working on Python 3.11: its dependency http-parser 0.9.0 is installed from its
#      source release with the C extension switched off, so http_parser.http falls back to the
#      pure-Python parser (the extension's generated C does not compile on 3.11);
#   4. mesopress itself, editable.
# Re-running it does nothing that is already done.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MESOPRESS_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

APT_PACKAGES=(python3 zookeeper mariadb-server mariadb-backup galera-4 rsync socat iproute2 haproxy nginx
              php-fpm php-mysql wordpress wordpress-theme-twentytwentythree procps)
if [ "${1:-}" = "--tests" ]; then
  APT_PACKAGES+=(chromium)
elif [ -n "${1:-}" ]; then
  echo "usage: $0 [--tests]" >&2
  exit 2
fi

log() { echo "[setup] $*" >&2; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${APT_PACKAGES[@]}"
else
  log "Debian packages present"
fi

if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)

stamp="$VENV/.mesopress-deps"
want="$(cat "$ROOT/requirements.txt" "$ROOT/requirements-dev.txt" "$ROOT/setup.py" "$0" | sha256sum | cut -c1-16)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing Python dependencies"
  "${PIP[@]}" install wheel==0.45.1 -r "$ROOT/requirements.txt" -r "$ROOT/requirements-dev.txt"
  if ! "$VENV/bin/python" -c 'import http_parser.http' 2>/dev/null; then
    log "installing http-parser 0.9.0 without its C extension (pure-Python parser)"
    tmp="$(mktemp -d)"
    "${PIP[@]}" download --no-deps --no-binary :all: -d "$tmp" http-parser==0.9.0
    tar -xzf "$tmp"/http-parser-0.9.0.tar.gz -C "$tmp"
    src="$tmp/http-parser-0.9.0"
    sed -i 's/^    run_setup(not IS_PYPY)$/    run_setup(False)/' "$src/setup.py"
    grep -q '^    run_setup(False)$' "$src/setup.py" || { log "http-parser setup.py not as expected"; exit 1; }
    rm -f "$src"/http_parser/*.so "$src"/http_parser/parser.c
    "${PIP[@]}" install --no-build-isolation "$src"
    rm -rf "$tmp"
  fi
  "${PIP[@]}" install pymesos==0.3.15
  "${PIP[@]}" install --no-deps -e "$ROOT"
  "$VENV/bin/python" -c 'import pymesos, kazoo, pymysql, yaml, mesopress, localmesos' \
    || { log "import check failed"; exit 1; }
  echo "$want" > "$stamp"
else
  log "Python dependencies present"
fi
log "ready: $VENV"
