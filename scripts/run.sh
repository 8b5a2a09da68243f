#!/usr/bin/env bash
# Set up and run the assistant: trains a model if none exists and, on a fresh install with
# nothing live, promotes it (`bpbot models promote --first`: the regression gate's stories),
# then serves the demo page with the widget at http://127.0.0.1:5005/ and the staff inbox at
# /staff (SQLite).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export HF_HUB_OFFLINE=1
exec .venv/bin/bpbot run "$@"
