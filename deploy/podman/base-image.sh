#!/usr/bin/env bash
# Makes a local base image (Debian bookworm with Python 3.11 and Voikko) from Debian's
# package archive, for machines that reach no container registry:
#   deploy/podman/base-image.sh [IMAGE] [CACHE_DIR]    (default localhost/bpbot-base:bookworm)
# The archive is the one apt uses on this machine (read from `apt-cache policy`); the root
# file system is made as root with mmdebstrap (apt's parallel downloads and one dpkg run: a
# third faster than debootstrap, which is used where only it is installed) and kept as a
# tarball under CACHE_DIR (default .cache/deploy), so a second run only imports it. Build with
#   podman build --build-arg BASE_IMAGE=localhost/bpbot-base:bookworm -f deploy/Dockerfile .
set -euo pipefail
cd "$(dirname "$0")/../.."
image="${1:-localhost/bpbot-base:bookworm}"
cache="${2:-.cache/deploy}"
suite=bookworm
# What the image's two stages need (deploy/Dockerfile installs only what is missing).
include=python3,python3-venv,libvoikko1,voikko-fi,postgresql-client,ca-certificates

if podman image exists "$image"; then
  exit 0
fi
mkdir -p "$cache"
tarball="$cache/$suite-base.tar"
if [ ! -s "$tarball" ]; then
  mirror="$(apt-cache policy | awk -v s="$suite/main" '$3 == s && $2 ~ /^https?:/ {print $2; exit}')"
  if [ -z "$mirror" ]; then
    echo "base-image.sh: expected an apt source for $suite/main in \`apt-cache policy\`," \
         "found none; add Debian's archive to /etc/apt/sources.list(.d) and run apt-get update" >&2
    exit 2
  fi
  if command -v mmdebstrap >/dev/null; then
    trap 'rm -f "$tarball.part"' EXIT
    trap 'exit 1' INT TERM
    # The packages debootstrap installs (merged /usr as it makes it); dpkg without fsync
    # (as Docker's Debian images have it); apt's lists and downloads removed as below (its
    # own cleanup runs apt again, which leaves a lists folder behind).
    mmdebstrap --quiet --mode=root --format=tar --variant=minbase \
      --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr --dpkgopt=force-unsafe-io \
      --skip=cleanup/apt --customize-hook='rm -rf "$1"/var/lib/apt/lists/* \
        "$1"/var/cache/apt/*.bin "$1"/var/cache/apt/archives/*.deb' \
      --include="$include" "$suite" "$tarball.part" "$mirror" >&2
  else
    root="$(mktemp -d "$cache/root.XXXXXX")"
    trap 'rm -rf "$root" "$tarball.part"' EXIT
    trap 'exit 1' INT TERM
    debootstrap --variant=minbase --include="$include" "$suite" "$root" "$mirror" >&2
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
      "$root"/var/cache/apt/archives/*.deb
    tar -C "$root" --numeric-owner -cf "$tarball.part" .
  fi
  mv "$tarball.part" "$tarball"
fi
podman import --change 'CMD ["/bin/bash"]' "$tarball" "$image" >/dev/null
