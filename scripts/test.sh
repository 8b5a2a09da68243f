#!/usr/bin/env bash
# Set up (with test and transformers extras) and run every check: ruff, mypy, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh "dev,transformers,postgres"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export BPBOT_CACHE_DIR="${BPBOT_CACHE_DIR:-$PWD/.cache/bpbot}"
.venv/bin/ruff check bot actions tests bench
.venv/bin/mypy
.venv/bin/pytest -q "$@"
