#!/usr/bin/env bash
# Install everything the project needs into .venv (idempotent). Usage: scripts/setup.sh [extras]
# extras: "dev" (tests, linters), "transformers" (the sentence-transformers backend).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"

# Debian packages: Voikko for Finnish base forms (lookup entities); for the tests
# (extra "dev") also the PostgreSQL server and nginx, which the tests start on loopback, Chromium
# for the browser tests (driven by Playwright through executable_path; no browser download),
# and podman, podman-compose and mmdebstrap, with which the deploy tests build the image on a
# base made from Debian's archive and bring up deploy/compose.yaml (runc: crun 1.8 refuses
# hybrid cgroups; netavark and aardvark-dns: the stack's network and its service names).
packages=(libvoikko1 voikko-fi)
case ",$extras," in *,dev,*) packages+=(postgresql chromium nginx-light podman podman-compose
  mmdebstrap runc netavark aardvark-dns openssl);; esac
need=()
for pkg in "${packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ -n "$extras" ]; then
  .venv/bin/python -m pip install -q -e ".[${extras}]"
else
  .venv/bin/python -m pip install -q -e .
fi

# Test tools from the npm registry (axe-core for the accessibility tests), as locked.
case ",$extras," in *,dev,*) npm ci --no-audit --no-fund --silent;; esac
